import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// CI runs the examples as part of `npm test`: a doc example that no longer runs is a failing test.
const runner = fileURLToPath(new URL('../../scripts/run-examples.mjs', import.meta.url));

function run(args: string[], timeoutMs: number): { status: number | null; output: string } {
  const result = spawnSync(process.execPath, [runner, '--quiet', ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

test('every example in examples/ runs and exits 0', { timeout: 60_000 }, () => {
  const { status, output } = run(['--timeout-ms', '15000'], 55_000);
  assert.equal(status, 0, output);
  assert.match(output, /(\d+) of \1 passed/);
});

test('the runner reports a failing or hanging example and exits non-zero', { timeout: 30_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'skein-examples-'));
  try {
    writeFileSync(join(dir, 'a-passes.ts'), 'console.log("fine");\n');
    writeFileSync(join(dir, 'b-throws.ts'), 'throw new Error("example broke");\n');
    writeFileSync(join(dir, 'c-hangs.ts'), 'setInterval(() => undefined, 1000);\n');
    const { status, output } = run(['--dir', dir, '--timeout-ms', '5000'], 25_000);
    assert.equal(status, 1, output);
    assert.match(output, /ok {3}.*a-passes\.ts/);
    assert.match(output, /FAIL .*b-throws\.ts.*exit 1/);
    assert.match(output, /example broke/); // a failure's output is shown even with --quiet
    assert.match(output, /FAIL .*c-hangs\.ts.*timed out after 5000 ms/);
    assert.match(output, /1 of 3 passed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
