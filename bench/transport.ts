/**
 * TCP transport throughput: one sender, one receiver, 256-byte messages (by default), receiver in
 * a separate process so the two event loops do not share a core.
 *
 *   npm run bench:transport -- [--messages=1000000] [--bytes=256] [--same-process] [--coalesce-bytes=N]
 *
 * `--coalesce-bytes=1` turns write coalescing off (one socket write per message) for comparison.
 * The sender paces itself on `bufferedBytes` so no message is dropped; the figure is measured at
 * the receiver, from the first message to the last.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { encode } from '../src/core/codec.ts';
import { createTcpTransport, type TcpTransport } from '../src/transport/index.ts';

const SECRET = 'bench-cluster-secret-0123456789abcdef';
const HIGH_WATER_BYTES = 4 * 1024 * 1024;

function arg(name: string): string | undefined {
  const prefix = `--${name}=`;
  const found = process.argv.find((a) => a === `--${name}` || a.startsWith(prefix));
  if (found === undefined) return undefined;
  return found.startsWith(prefix) ? found.slice(prefix.length) : 'true';
}

const messages = Number(arg('messages') ?? 1_000_000);
const messageBytes = Number(arg('bytes') ?? 256);
const coalesceWriteBytes = arg('coalesce-bytes') === undefined ? undefined : Number(arg('coalesce-bytes'));

interface Result {
  messages: number;
  seconds: number;
  /** Receiver CPU time (user + system) over the same interval: robust to a busy machine. */
  cpuMicros: number;
}

/** A payload size that makes `{ seq, payload }` encode to `messageBytes` for large seq values. */
function payloadFor(bytes: number): Buffer {
  const overhead = encode({ seq: 1_000_000, payload: Buffer.alloc(0) }).length;
  let payload = Buffer.alloc(Math.max(0, bytes - overhead));
  while (encode({ seq: 1_000_000, payload }).length > bytes && payload.length > 0) {
    payload = payload.subarray(1);
  }
  return payload;
}

async function receiver(onListening: (address: string) => void): Promise<Result> {
  const t = await createTcpTransport({
    id: 'rx',
    listen: { host: '127.0.0.1', port: 0 },
    clusterSecret: SECRET,
  });
  let count = 0;
  let firstMs = 0;
  let firstCpu = process.cpuUsage();
  const done = new Promise<Result>((resolve) => {
    t.setHandler(() => {
      if (count === 0) {
        firstMs = performance.now();
        firstCpu = process.cpuUsage();
      }
      if (++count === messages) {
        const cpu = process.cpuUsage(firstCpu);
        resolve({
          messages: count - 1,
          seconds: (performance.now() - firstMs) / 1000,
          cpuMicros: cpu.user + cpu.system,
        });
      }
    });
  });
  onListening(t.address);
  const result = await done;
  await t.close();
  return result;
}

async function sender(to: string): Promise<TcpTransport> {
  const t = await createTcpTransport({
    id: 'tx',
    listen: { host: '127.0.0.1', port: 0 },
    clusterSecret: SECRET,
    ...(coalesceWriteBytes === undefined ? {} : { coalesceWriteBytes }),
  });
  t.setPeerAddress('rx', to);
  const payload = payloadFor(messageBytes);
  let seq = 0;
  while (seq < messages) {
    const batchEnd = Math.min(messages, seq + 1000);
    for (; seq < batchEnd; seq++) t.send('rx', { seq, payload });
    while (t.bufferedBytes('rx') > HIGH_WATER_BYTES) await new Promise((resolve) => setImmediate(resolve));
  }
  return t;
}

function report(result: Result, tx: TcpTransport, mode: string, senderCpuMicros?: number): void {
  const rate = result.messages / result.seconds;
  const stats = tx.stats();
  const perWrite = stats.msgsSent / Math.max(1, stats.socketWrites);
  const cpuPerMsg = (micros: number): string => (micros / messages).toFixed(2);
  const cpu =
    senderCpuMicros === undefined
      ? `${cpuPerMsg(result.cpuMicros)} µs CPU/msg (both sides)`
      : `CPU/msg: sender ${cpuPerMsg(senderCpuMicros)} µs, receiver ${cpuPerMsg(result.cpuMicros)} µs`;
  console.log(
    `transport ${mode}: ${messages} msgs of ${messageBytes} B: ${Math.round(rate).toLocaleString('en-US')} msgs/s, ` +
      `${((rate * messageBytes) / 1e6).toFixed(1)} MB/s payload; ${cpu}; ` +
      `${perWrite.toFixed(1)} msgs per socket write; dropped ${stats.msgsDropped}`,
  );
}

async function main(): Promise<void> {
  if (arg('role') === 'receiver') {
    const result = await receiver((address) => {
      console.log(JSON.stringify({ address }));
    });
    console.log(JSON.stringify(result));
    return;
  }
  if (arg('same-process') !== undefined) {
    let tx: TcpTransport | undefined;
    const result = await receiver((address) => {
      void sender(address).then((t) => (tx = t));
    });
    report(result, tx!, 'same process');
    await tx!.close();
    return;
  }
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--role=receiver', ...process.argv.slice(2)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  const { address } = JSON.parse(String(first.value)) as { address: string };
  const startCpu = process.cpuUsage();
  const tx = await sender(address);
  const last = await lines.next();
  const senderCpu = process.cpuUsage(startCpu);
  report(JSON.parse(String(last.value)) as Result, tx, 'two processes', senderCpu.user + senderCpu.system);
  await tx.close();
}

await main();
