import { Indeterminate, type Operation } from './history.ts';
import { LinearizedSet, StateCache } from './linearizability-cache.ts';
import type { Model } from './linearizability-model.ts';

/** Limits for one search: a wall-clock deadline and a bound on the memo cache. */
export interface SearchBudget {
  readonly deadlineMs: number;
  readonly now: () => number;
  readonly maxCacheBytes: number;
}

/** Why a search gave up. */
export type GiveUpReason = 'timeout' | 'cache-limit';

export type SearchOutcome<Input, Output> =
  | { readonly result: 'ok' }
  | { readonly result: 'illegal'; readonly longest: readonly Operation<Input, Output>[] }
  | { readonly result: 'unknown'; readonly reason: GiveUpReason };

/** How many search steps between deadline checks (a power of two minus one, used as a mask). */
const deadlineCheckMask = 1023;

/**
 * The call and return events of a history as a doubly linked list in real-time order, over typed
 * arrays. Node 0 is the head sentinel and node `2n + 1` the tail sentinel. Linearizing an
 * operation unlinks ("lifts") its two events; backtracking relinks them in reverse order, which
 * is valid because lifts and unlifts are strictly last-in first-out (dancing links).
 */
class EventList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** Operation index of each event node. */
  readonly opOf: Int32Array;
  /** 1 for a call event, 0 for a return event. */
  readonly isCall: Uint8Array;
  /** Return-event node of each operation. */
  readonly returnNode: Int32Array;
  readonly tail: number;

  constructor(operations: readonly Operation<unknown, unknown>[]) {
    const n = operations.length;
    const events: { node: number; time: number; isCall: boolean; op: number }[] = [];
    operations.forEach((op, index) => {
      events.push({ node: 0, time: op.call, isCall: true, op: index });
      events.push({ node: 0, time: op.return, isCall: false, op: index });
    });
    // Ties: calls before returns, so intervals that touch overlap (the permissive reading).
    events.sort((a, b) => a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.op - b.op);
    this.tail = 2 * n + 1;
    this.next = new Int32Array(2 * n + 2);
    this.prev = new Int32Array(2 * n + 2);
    this.opOf = new Int32Array(2 * n + 2).fill(-1);
    this.isCall = new Uint8Array(2 * n + 2);
    this.returnNode = new Int32Array(n);
    events.forEach((event, i) => {
      const node = i + 1;
      this.opOf[node] = event.op;
      this.isCall[node] = event.isCall ? 1 : 0;
      if (!event.isCall) this.returnNode[event.op] = node;
    });
    for (let node = 0; node <= this.tail; node++) {
      this.next[node] = Math.min(node + 1, this.tail);
      this.prev[node] = Math.max(node - 1, 0);
    }
  }

  /** Unlink a call event and its return event. */
  lift(callNode: number): void {
    this.#unlink(callNode);
    this.#unlink(this.returnNode[this.opOf[callNode]!]!);
  }

  /** Undo the matching `lift`. */
  unlift(callNode: number): void {
    this.#relink(this.returnNode[this.opOf[callNode]!]!);
    this.#relink(callNode);
  }

  #unlink(node: number): void {
    const prev = this.prev[node]!;
    const next = this.next[node]!;
    this.next[prev] = next;
    this.prev[next] = prev;
  }

  #relink(node: number): void {
    this.next[this.prev[node]!] = node;
    this.prev[this.next[node]!] = node;
  }
}

/**
 * Wing & Gong's backtracking search with Lowe's memoization, for one partition.
 *
 * Walk the event list from the front. At a call event, try to linearize that operation now: if
 * the model accepts it and the resulting (linearized set, state) is new to the cache, lift it,
 * push it on the stack and restart from the front. At a return event, the operation it closes
 * should have been linearized already, so this branch is dead: pop the last choice and try the
 * next candidate after it. The history is linearizable once every operation with a known outcome
 * is linearized; indeterminate ones left over are taken not to have happened (equivalently, to
 * have happened after everything else, where nothing observes them).
 */
export function searchLinearization<State, Input, Output>(
  model: Model<State, Input, Output>,
  history: readonly Operation<Input, Output>[],
  budget: SearchBudget,
): SearchOutcome<Input, Output> {
  // Indexes in invocation order keep the linearized set's window (see LinearizedSet) narrow.
  const operations = [...history].sort((a, b) => a.call - b.call);
  const n = operations.length;
  const determinate = operations.map((op) => op.output !== Indeterminate);
  const toLinearize = determinate.filter(Boolean).length;
  if (toLinearize === 0) return { result: 'ok' };

  const list = new EventList(operations);
  const linearized = new LinearizedSet(n);
  const cache = new StateCache<State>(
    (a, b) => model.equal(a, b),
    (s) => model.hash(s),
  );
  const stack = new SearchStack<State>(n);
  let doneCount = 0;
  let state = model.init();
  let node = list.next[0]!;
  let steps = 0;

  for (;;) {
    if ((++steps & deadlineCheckMask) === 0) {
      if (budget.now() > budget.deadlineMs) return { result: 'unknown', reason: 'timeout' };
      if (cache.bytes > budget.maxCacheBytes) return { result: 'unknown', reason: 'cache-limit' };
    }
    const opIndex = list.opOf[node]!;
    if (list.isCall[node] === 1) {
      const op = operations[opIndex]!;
      const stepped = model.step(state, op.input, op.output);
      if (stepped.ok) {
        linearized.push(opIndex);
        if (cache.add(linearized, stepped.state)) {
          stack.push(node, state);
          state = stepped.state;
          list.lift(node);
          if (determinate[opIndex] === true && ++doneCount === toLinearize) return { result: 'ok' };
          node = list.next[0]!;
          continue;
        }
        linearized.pop();
      }
      node = list.next[node]!;
    } else {
      // A return event of an operation not linearized yet: undo the last choice.
      if (stack.depth === 0) return { result: 'illegal', longest: stack.longest(operations, list.opOf) };
      const callNode = stack.topNode();
      state = stack.pop();
      linearized.pop();
      if (determinate[list.opOf[callNode]!] === true) doneCount--;
      list.unlift(callNode);
      node = list.next[callNode]!;
    }
  }
}

/**
 * The search's choices (the call event and the state before it, per level), and the longest
 * prefix it has reached, for the counterexample.
 */
class SearchStack<State> {
  readonly #nodes: Int32Array;
  readonly #states: State[] = [];
  readonly #longest: Int32Array;
  #longestLength = 0;
  /** `#longest[0, #syncedUpTo)` equals `#nodes[0, #syncedUpTo)`: only the rest needs copying. */
  #syncedUpTo = 0;
  depth = 0;

  constructor(capacity: number) {
    this.#nodes = new Int32Array(capacity);
    this.#longest = new Int32Array(capacity);
  }

  push(node: number, stateBefore: State): void {
    this.#nodes[this.depth] = node;
    this.#states[this.depth] = stateBefore;
    this.depth++;
    if (this.depth > this.#longestLength) {
      this.#longest.set(this.#nodes.subarray(this.#syncedUpTo, this.depth), this.#syncedUpTo);
      this.#longestLength = this.depth;
      this.#syncedUpTo = this.depth;
    }
  }

  topNode(): number {
    return this.#nodes[this.depth - 1]!;
  }

  /** Drop the top choice; returns the state before it. */
  pop(): State {
    this.depth--;
    this.#syncedUpTo = Math.min(this.#syncedUpTo, this.depth);
    return this.#states[this.depth]!;
  }

  /** The longest prefix reached, in linearization order. */
  longest<Input, Output>(
    operations: readonly Operation<Input, Output>[],
    opOf: Int32Array,
  ): Operation<Input, Output>[] {
    return Array.from(this.#longest.subarray(0, this.#longestLength), (node) => operations[opOf[node]!]!);
  }
}
