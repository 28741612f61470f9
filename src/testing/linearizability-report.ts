import { Indeterminate, type Operation } from './history.ts';
import { describeOperation, describeState, type Model } from './linearizability-model.ts';

/** The text shows only the end of a long prefix: that is where the trouble is. */
const maxPrefixLines = 20;

/** A readable explanation of why one partition of a history is not linearizable. */
export interface Counterexample<Input, Output> {
  /** The partition (for the key-value model: the key). */
  readonly key: string;
  /** The longest prefix the search could linearize, in linearization order. */
  readonly linearized: readonly Operation<Input, Output>[];
  /** The model state after that prefix, described by the model. */
  readonly stateAfter: string;
  /**
   * The operations that real time allows next; the model rejects each of them in `stateAfter`
   * (had it accepted one, the prefix would not be the longest).
   */
  readonly blocked: readonly Operation<Input, Output>[];
  /** All of the above as text, for an assertion message. */
  readonly text: string;
}

/**
 * Explain an illegal partition from the longest linearizable prefix the search found: replay the
 * prefix through the model, then list the operations that real time allows next: those invoked
 * before the earliest remaining response. One of them must come next, and none can.
 */
export function buildCounterexample<State, Input, Output>(
  model: Model<State, Input, Output>,
  key: string,
  operations: readonly Operation<Input, Output>[],
  linearized: readonly Operation<Input, Output>[],
): Counterexample<Input, Output> {
  let state = model.init();
  for (const op of linearized) {
    const stepped = model.step(state, op.input, op.output);
    if (!stepped.ok) throw new Error('skein assertion failed: the longest prefix does not replay');
    state = stepped.state;
  }
  const done = new Set(linearized);
  const remaining = operations.filter((op) => !done.has(op));
  // The earliest remaining response bounds what may come next: whatever was invoked by then.
  const firstReturn = remaining.reduce((min, op) => Math.min(min, op.return), Infinity);
  const blocked = remaining.filter((op) => op.call <= firstReturn).sort((a, b) => a.call - b.call);
  const stateAfter = describeState(model, state);
  const hidden = Math.max(0, linearized.length - maxPrefixLines);
  const text = [
    `not linearizable: key ${JSON.stringify(key)} (${plural(operations.length, 'operation')})`,
    `longest linearizable prefix (${plural(linearized.length, 'operation')}), leaving state ${stateAfter}:`,
    ...(hidden > 0 ? [`  ... ${plural(hidden, 'earlier operation')}`] : []),
    ...linearized.slice(hidden).map((op, i) => `  ${hidden + i + 1}. ${describeLine(model, op)}`),
    'none of these can come next:',
    ...blocked.map((op) => `  - ${describeLine(model, op)}: impossible in state ${stateAfter}`),
  ].join('\n');
  return { key, linearized, stateAfter, blocked, text };
}

/** `client 3 put(x, 1) [12..15ms]`: who, what, and when (clock times when recorded, else positions). */
export function describeLine<State, Input, Output>(
  model: Model<State, Input, Output>,
  op: Operation<Input, Output>,
): string {
  const what = describeOperation(model, op.input, op.output);
  const when =
    op.callMs !== undefined
      ? `[${op.callMs}..${op.returnMs ?? '∞'}ms]`
      : `[${op.call}..${op.return === Infinity ? '∞' : op.return}]`;
  const timedOut = op.output === Indeterminate ? ' (timed out)' : '';
  return `client ${op.clientId} ${what}${timedOut} ${when}`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
