/**
 * The persisted gossip keyring: `<data_dir>/keyring.json` for the LAN pool and
 * `<data_dir>/keyring-wan.json` for the WAN pool (servers), written after every keyring change so a
 * restarted agent rejoins with the keys the cluster uses now.
 *
 * Precedence at start (as Consul): a keyring file that exists WINS over `encrypt`, because it
 * reflects live rotations (install/use/remove) made since `encrypt` was written into the config; a
 * warning says so when they differ. With only `encrypt`, the file is seeded from it.
 *
 * Files are written atomically (see atomic-file.ts): a crash leaves the old or the new keyring.
 */
import { promises as fs } from 'node:fs';
import { Keyring } from '../gossip/keyring';
import { writeFileAtomic } from './atomic-file';
import { AgentError, AgentErrorCode } from './errors';

/** File name of the LAN keyring inside the data directory. */
export const LAN_KEYRING_FILE = 'keyring.json';
/** File name of the WAN keyring inside the data directory. */
export const WAN_KEYRING_FILE = 'keyring-wan.json';

/** On-disk form: the primary key and every installed key (primary first), base64. */
export interface KeyringFile {
  primary: string;
  keys: string[];
}

/** Outcome of choosing the starting keyring. */
export interface KeyringChoice {
  /** Keys to start with; undefined means gossip encryption is off. */
  keyring: KeyringFile | undefined;
  /** Where they came from. */
  source: 'file' | 'encrypt' | 'none';
  /** True when the file must be written (seeded from `encrypt`). */
  seed: boolean;
  /** Set when `encrypt` was ignored in favour of the file; safe to log (no key material). */
  warning: string | undefined;
}

/** Decides the starting keyring from the persisted file and the `encrypt` setting. Pure. */
export function chooseKeyring(persisted: KeyringFile | undefined, encrypt: string | undefined, filePath: string): KeyringChoice {
  if (persisted !== undefined) {
    const differs = encrypt !== undefined && encrypt !== persisted.primary;
    const warning = differs
      ? `encrypt is set but the keyring file ${filePath} exists and wins: it reflects keyring operations made since ` +
        (persisted.keys.includes(encrypt) ? '(the encrypt key is installed but is no longer primary)' : '(the encrypt key is not in it)') +
        '; encrypt is ignored. To start over from encrypt, stop the agent and delete the keyring file.'
      : undefined;
    return { keyring: persisted, source: 'file', seed: false, warning };
  }
  if (encrypt !== undefined) return { keyring: { primary: encrypt, keys: [encrypt] }, source: 'encrypt', seed: true, warning: undefined };
  return { keyring: undefined, source: 'none', seed: false, warning: undefined };
}

/** Reads a keyring file; undefined when absent. Accepts Consul's format too (an array, primary first). */
export async function readKeyringFile(path: string): Promise<KeyringFile | undefined> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentError(AgentErrorCode.keyringFile, `cannot read keyring file ${path}: ${(err as Error).message}`);
  }
  const fail = (why: string): never => {
    throw new AgentError(AgentErrorCode.keyringFile, `keyring file ${path}: ${why}; fix or delete it (it is re-seeded from encrypt)`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return fail('not valid JSON');
  }
  const file: KeyringFile | undefined = Array.isArray(raw)
    ? { primary: String(raw[0] ?? ''), keys: raw.map(String) }
    : typeof raw === 'object' && raw !== null
      ? { primary: (raw as { primary?: unknown }).primary as string, keys: (raw as { keys?: unknown }).keys as string[] }
      : undefined;
  if (file === undefined || typeof file.primary !== 'string' || !Array.isArray(file.keys) || file.keys.some((k) => typeof k !== 'string')) {
    return fail('expected {"primary": "<base64>", "keys": ["<base64>", ...]}');
  }
  try {
    toKeyring(file);
  } catch (err) {
    // Keyring.parseKey names the field and never the key.
    return fail((err as Error).message);
  }
  if (!file.keys.includes(file.primary)) file.keys.unshift(file.primary);
  return file;
}

/** Builds the in-memory keyring. */
export function toKeyring(file: KeyringFile): Keyring {
  return Keyring.fromBase64(file.keys, file.primary);
}

/** Snapshot of a keyring for persisting. */
export function fromKeyring(ring: Keyring): KeyringFile {
  const keys = ring.list();
  return { primary: keys[0]!, keys };
}

/** Persists one pool's keyring; writes are serialized so the last change is the one on disk. */
export class KeyringStore {
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  /** Reads the file (undefined when absent). */
  read(): Promise<KeyringFile | undefined> {
    return readKeyringFile(this.path);
  }

  /** Writes the keyring's current keys; resolves once they are durably on disk. */
  save(ring: Keyring | KeyringFile): Promise<void> {
    const file = ring instanceof Keyring ? fromKeyring(ring) : ring;
    const data = `${JSON.stringify(file, null, 2)}\n`;
    const next = this.chain.then(() => writeFileAtomic(this.path, data));
    this.chain = next.catch(() => {});
    return next;
  }
}
