/**
 * Services registered over the HTTP API survive restarts: each is kept as
 * `<data_dir>/services/<id>.json` (mode 0600, replaced atomically) holding the registration body as
 * the client sent it and the sidecar port it was given. On start the registry re-validates every
 * file; a file that no longer reads or validates is logged and skipped, never fatal.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../agent/atomic-file';
import type { Logger } from '../core/logger';
import { SERVICE_ID_PATTERN } from './definition';

/** Largest registration file read back (a registration body is a few kilobytes). */
export const MAX_REGISTRATION_FILE_BYTES = 1024 * 1024;

/** One persisted registration. */
export interface StoredRegistration {
  id: string;
  /** The body as the client sent it. */
  definition: unknown;
  /** The sidecar's assigned port, kept so it survives a restart. */
  sidecarPort: number | undefined;
  file: string;
}

/** The `services/` folder of the data dir. Writes are serialized, so the last one wins on disk too. */
export class RegistrationStore {
  private readonly dir: string;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string, private readonly logger: Logger) {
    this.dir = join(dataDir, 'services');
  }

  /** Writes (or replaces) the registration of service `id`. */
  save(id: string, definition: unknown, sidecarPort: number | undefined): Promise<void> {
    const text = `${JSON.stringify({ version: 1, definition, ...(sidecarPort === undefined ? {} : { sidecarPort }) }, null, 2)}\n`;
    return this.serial(async () => {
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(this.pathOf(id), text, 0o600);
    });
  }

  /** Deletes the registration of service `id` (a no-op when there is none). */
  remove(id: string): Promise<void> {
    return this.serial(() => fs.rm(this.pathOf(id), { force: true }));
  }

  /** Every readable registration, sorted by ID; unreadable files are logged and skipped. */
  async loadAll(): Promise<StoredRegistration[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: StoredRegistration[] = [];
    for (const name of names.sort()) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const r = await this.read(join(this.dir, name), name.slice(0, -'.json'.length));
      if (r !== undefined) out.push(r);
    }
    return out;
  }

  private async read(file: string, id: string): Promise<StoredRegistration | undefined> {
    try {
      const st = await fs.stat(file);
      if (!st.isFile() || st.size > MAX_REGISTRATION_FILE_BYTES) throw new Error(`expected a regular file of at most ${MAX_REGISTRATION_FILE_BYTES} bytes`);
      const doc = JSON.parse(await fs.readFile(file, 'utf8')) as { version?: unknown; definition?: unknown; sidecarPort?: unknown };
      if (doc.version !== 1 || typeof doc.definition !== 'object' || doc.definition === null) throw new Error('expected {"version": 1, "definition": {...}}');
      const port = typeof doc.sidecarPort === 'number' && Number.isInteger(doc.sidecarPort) ? doc.sidecarPort : undefined;
      return { id, definition: doc.definition, sidecarPort: port, file };
    } catch (err) {
      this.logger.warn({ file, err: (err as Error).message }, 'skipping unreadable service registration file');
      return undefined;
    }
  }

  private pathOf(id: string): string {
    // IDs are validated against this pattern before they get here; check again, it names a file.
    if (!SERVICE_ID_PATTERN.test(id)) throw new Error(`service ID ${JSON.stringify(id)} cannot name a file`);
    return join(this.dir, `${id}.json`);
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
