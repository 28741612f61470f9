import { encode } from '../../src/core/codec.ts';
import { Random } from '../../src/core/random.ts';
import { RaftCore } from '../../src/raft/raft.ts';
import { EntryKind, type RaftMessage } from '../../src/raft/types.ts';

/** What {@link pumpCores} measured. */
export interface CoreResult {
  readonly commits: number;
  readonly elapsedMs: number;
  readonly commitsPerSec: number;
}

/**
 * The pure Raft core alone: three `RaftCore`s in a synchronous loop — propose `batch` entries on
 * the leader, then hand every Ready's messages straight to their recipients and `advance` (storage
 * is "done" at once) until all three are quiet. No driver, promises, timers, transport or state
 * machine: this is the ceiling the RaftNode driver is measured against.
 */
export function pumpCores(options: { durationMs: number; batch: number; payloadBytes: number }): CoreResult {
  const ids = ['n1', 'n2', 'n3'];
  const voters = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${10_000 + i}`]));
  const random = new Random(42);
  const cores = new Map(ids.map((id) => [id, new RaftCore({ id, random: random.fork() })]));
  for (const core of cores.values()) core.bootstrap(voters, 'bench');
  const leader = cores.get('n1')!;
  leader.campaign();
  let applied = 0;
  const pump = (): void => {
    let busy = true;
    while (busy) {
      busy = false;
      for (const core of cores.values()) {
        if (!core.hasReady()) continue;
        busy = true;
        const ready = core.ready();
        const out: RaftMessage[] = [...ready.messagesNow, ...ready.messagesAfterPersist];
        core.advance(ready);
        if (core === leader) applied += ready.committedEntries.length;
        for (const m of out) cores.get(m.to)?.step(m);
      }
    }
  };
  pump();
  if (leader.role !== 'leader') throw new Error('n1 did not become leader');
  const payload = new Uint8Array(options.payloadBytes).fill(0x61);
  const items = Array.from({ length: options.batch }, (_, i) => ({
    kind: EntryKind.Normal,
    // Shaped like a RaftNode command entry (msgpack [requestId, action, params]), encoded once.
    data: encode([`n1:x:${i}`, 'set', { key: `bench-${i}`, value: payload }]),
  }));
  const appliedBefore = applied;
  const start = performance.now();
  let now = start;
  while (now - start < options.durationMs) {
    const result = leader.propose(items);
    if (!result.ok) throw result.error;
    pump();
    now = performance.now();
  }
  const commits = applied - appliedBefore;
  const elapsedMs = now - start;
  return { commits, elapsedMs, commitsPerSec: (commits * 1000) / elapsedMs };
}
