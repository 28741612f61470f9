/**
 * Preloaded into each skein member by `npm run bench:kv -- --cpu-prof-dir <dir>` (Node 20 refuses
 * --cpu-prof in NODE_OPTIONS, so the members get `--import` of this module instead): starts the V8
 * sampling profiler at once and writes `<dir>/skein-<pid>.cpuprofile` when the process exits
 * (the bench stops members with SIGTERM so that they exit normally).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env['SKEIN_BENCH_CPU_PROF_DIR'];
if (dir !== undefined && dir !== '') {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  // Same-thread inspector sessions answer synchronously, so this works inside an 'exit' handler.
  process.on('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (error === null) {
        writeFileSync(join(dir, `skein-${String(process.pid)}.cpuprofile`), JSON.stringify(result.profile));
      }
    });
  });
}
