import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes used by the files under `dir` (recursively); 0 when it cannot be read. Bounded to 10000 entries. */
export async function dataDirSizeBytes(dir: string): Promise<number> {
  let total = 0;
  let budget = 10_000;
  const walk = async (path: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (budget-- <= 0) return;
      const child = join(path, entry.name);
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile())
        total += await stat(child).then(
          (s) => s.size,
          () => 0,
        );
    }
  };
  await walk(dir);
  return total;
}
