/**
 * Summarize a V8 `.cpuprofile` (from `node --cpu-prof`, or `npm run bench:raft -- --cpu-prof`):
 * the functions with the most self time, and with the most inclusive time (self + callees).
 *
 *   node --import tsx bench/lib/cpu-profile-summary.ts <file.cpuprofile> [top=30]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: cpu-profile-summary.ts <file.cpuprofile> [top]');
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
const label = (n: ProfileNode): string => {
  const where = n.callFrame.url.split('/').slice(-2).join('/');
  return `${n.callFrame.functionName || '(anonymous)'} ${where}:${n.callFrame.lineNumber + 1}`;
};

const selfUs = new Map<string, number>();
const inclusiveUs = new Map<string, number>();
let totalUs = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] ?? 0;
  totalUs += dt;
  const leaf = byId.get(id)!;
  selfUs.set(label(leaf), (selfUs.get(label(leaf)) ?? 0) + dt);
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parentOf.get(cur)) {
    const name = label(byId.get(cur)!);
    if (seen.has(name)) continue; // recursion counts once
    seen.add(name);
    inclusiveUs.set(name, (inclusiveUs.get(name) ?? 0) + dt);
  }
});

function print(title: string, table: Map<string, number>): void {
  console.log(`${title} (of ${(totalUs / 1000).toFixed(0)} ms sampled)`);
  for (const [name, us] of [...table].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(
      `${(us / 1000).toFixed(0).padStart(8)} ms ${((100 * us) / totalUs).toFixed(1).padStart(5)}%  ${name}`,
    );
  }
}
print('self time', selfUs);
console.log();
print('inclusive time', inclusiveUs);
