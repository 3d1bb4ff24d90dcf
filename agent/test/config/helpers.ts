/** Test helpers: temporary config files. */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh temporary directory. */
export function tempDir(prefix = 'shoal-config-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Writes files (name -> contents) under `dir`, creating subdirectories; returns full paths by name. */
export function writeFiles(dir: string, files: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, text] of Object.entries(files)) {
    const full = join(dir, name);
    mkdirSync(join(full, '..'), { recursive: true });
    writeFileSync(full, text);
    out[name] = full;
  }
  return out;
}
