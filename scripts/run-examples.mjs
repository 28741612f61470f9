#!/usr/bin/env node
// Runs every examples/*.ts, one after another, the way a user would:
//   node --conditions=skein-source --import tsx examples/<name>.ts
// Each example must exit 0 within the timeout. Prints a summary; exits 1 if any example failed.
//
// Usage: node scripts/run-examples.mjs [--quiet] [--timeout-ms N] [--dir DIR] [substring ...]
//   --quiet        print an example's output only when it fails (used by `npm test`)
//   --timeout-ms   per-example limit (default 20000, or SKEIN_EXAMPLE_TIMEOUT_MS)
//   --dir          where the examples are (default: examples/ of this repository)
//   substring      run only the examples whose file name contains one of these
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function parseArgs(argv) {
  const options = {
    quiet: false,
    timeoutMs: Number(process.env['SKEIN_EXAMPLE_TIMEOUT_MS'] ?? 20_000),
    dir: join(root, 'examples'),
    filters: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--quiet') options.quiet = true;
    else if (arg === '--timeout-ms') options.timeoutMs = Number(argv[++i]);
    else if (arg === '--dir') options.dir = resolve(argv[++i] ?? '');
    else if (arg.startsWith('--')) usage(`unknown option ${arg}`);
    else options.filters.push(arg);
  }
  if (!Number.isSafeInteger(options.timeoutMs) || options.timeoutMs < 1) {
    usage('--timeout-ms must be a positive integer');
  }
  return options;
}

function usage(problem) {
  console.error(`run-examples: ${problem}`);
  console.error(
    'usage: node scripts/run-examples.mjs [--quiet] [--timeout-ms N] [--dir DIR] [substring ...]',
  );
  process.exit(2);
}

function findExamples(dir, filters) {
  let names;
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
    .filter((name) => filters.length === 0 || filters.some((f) => name.includes(f)))
    .sort()
    .map((name) => join(dir, name));
}

/** Run one example; resolves with its exit status, output and duration. Never rejects. */
function runExample(file, timeoutMs, quiet) {
  const started = performance.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--conditions=skein-source', '--import', 'tsx', file], {
      cwd: root,
      stdio: quiet ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'],
    });
    // Captured output is kept only up to a bound, so a chatty example cannot exhaust memory.
    const maxOutputChars = 64 * 1024;
    let output = '';
    const keep = (chunk) => {
      if (output.length < maxOutputChars)
        output += chunk.toString('utf8').slice(0, maxOutputChars - output.length);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      output += `\nrun-examples: could not start: ${error.message}\n`;
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ file, code, signal, timedOut, output, ms: performance.now() - started });
    });
  });
}

const options = parseArgs(process.argv.slice(2));
const files = findExamples(options.dir, options.filters);
if (files.length === 0) {
  console.error(
    `run-examples: no examples found in ${options.dir}${options.filters.length > 0 ? ` matching ${options.filters.join(' ')}` : ''}`,
  );
  process.exit(1);
}

const results = [];
for (const file of files) {
  const name = relative(root, file);
  if (!options.quiet) console.log(`\n=== ${name}`);
  const result = await runExample(file, options.timeoutMs, options.quiet);
  results.push(result);
  const ok = result.code === 0 && !result.timedOut;
  if (!ok && options.quiet) process.stdout.write(`--- output of ${name}\n${result.output}\n`);
}

console.log('\nexamples:');
let failed = 0;
for (const r of results) {
  const ok = r.code === 0 && !r.timedOut;
  if (!ok) failed++;
  const why = r.timedOut
    ? `timed out after ${options.timeoutMs} ms`
    : r.code === 0
      ? ''
      : r.signal !== null
        ? `killed by ${r.signal}`
        : `exit ${r.code}`;
  console.log(
    `  ${ok ? 'ok  ' : 'FAIL'} ${relative(root, r.file)} (${(r.ms / 1000).toFixed(1)} s)${why ? ` — ${why}` : ''}`,
  );
}
console.log(`${results.length - failed} of ${results.length} passed`);
process.exit(failed === 0 ? 0 : 1);
