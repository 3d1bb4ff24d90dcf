/**
 * The data directory: created with mode 0700 (it holds the keyring), a temporary one in dev mode,
 * and the node ID kept in it so an agent keeps its identity across restarts (as Consul's node-id).
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../core/logger';
import { AgentError, AgentErrorCode } from './errors';
import { writeFileAtomic } from './atomic-file';

/** Creates the directory (0700) if missing; warns when an existing one is readable by others. */
export async function prepareDataDir(dir: string, logger: Logger): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await fs.stat(dir);
    if (!st.isDirectory()) throw new Error('not a directory');
    if ((st.mode & 0o077) !== 0) {
      logger.warn({ dataDir: dir, mode: (st.mode & 0o777).toString(8) }, 'data directory is accessible to other users; it holds the gossip keyring: chmod 700 it');
    }
    await fs.access(dir, fs.constants.W_OK);
  } catch (err) {
    throw new AgentError(AgentErrorCode.dataDir, `data_dir ${dir}: ${(err as Error).message}`);
  }
}

/** Makes a throwaway data directory for dev mode. */
export async function makeDevDataDir(): Promise<string> {
  return fs.mkdtemp(join(tmpdir(), 'shoal-dev-'));
}

/** The configured node ID, or the one stored in `<dataDir>/node-id`, created on first start. */
export async function loadNodeId(dataDir: string, configured: string | undefined): Promise<string> {
  if (configured !== undefined) return configured;
  const path = join(dataDir, 'node-id');
  try {
    const id = (await fs.readFile(path, 'utf8')).trim().toLowerCase();
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id)) return id;
    throw new AgentError(AgentErrorCode.dataDir, `${path}: expected a UUID; fix or delete the file`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = randomUUID();
  await writeFileAtomic(path, `${id}\n`);
  return id;
}
