/**
 * Leaves on disk: `<data_dir>/certs/<name>.json`, one file per identity, mode 0600 in a 0700
 * directory, written atomically, so a restarted agent serves its leaves at once instead of waiting
 * for a CA server. A cached leaf is used only when it parses, its key matches its certificate, it
 * names the expected SPIFFE ID and it has not expired; anything else is ignored (and replaced by a
 * fresh request).
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Identity, SignResponse } from '../../../ca/src';
import { writeFileAtomic } from '../agent/atomic-file';
import { sanUris } from './intermediate-transfer';

/** Directory of the cache under the data directory. */
export const CERTS_DIR = 'certs';

/** A leaf, its key and how it was issued. */
export interface CachedLeaf extends SignResponse {
  spiffeId: string;
  keyPem: string;
}

/** The file name of an identity: `agent.json`, `service.<ns>.<name>.json`. */
export function cacheFileName(id: Identity): string {
  return id.kind === 'agent' ? 'agent.json' : `service.${id.namespace}.${id.service}.json`;
}

/** Reads and disk-caches leaves of one agent. */
export class LeafCache {
  private readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, CERTS_DIR);
  }

  /** The cached leaf for `id` if it is usable at `nowMs`; undefined otherwise (missing, broken or expired). */
  async read(id: Identity, spiffeId: string, nowMs: number): Promise<CachedLeaf | undefined> {
    let text: string;
    try {
      text = await fs.readFile(join(this.dir, cacheFileName(id)), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const leaf = JSON.parse(text) as CachedLeaf;
      if (leaf.spiffeId !== spiffeId || typeof leaf.certPem !== 'string' || typeof leaf.keyPem !== 'string' || !Array.isArray(leaf.chainPem)) return undefined;
      if (!(nowMs < leaf.notAfterMs)) return undefined;
      const cert = new X509Certificate(leaf.certPem);
      if (!sanUris(cert).includes(spiffeId)) return undefined;
      const fromKey = createPublicKey(createPrivateKey(leaf.keyPem)).export({ type: 'spki', format: 'der' });
      if (!fromKey.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))) return undefined;
      return leaf;
    } catch {
      return undefined;
    }
  }

  /** Writes a leaf (0600, atomic). */
  async write(id: Identity, leaf: CachedLeaf): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(this.dir, cacheFileName(id)), `${JSON.stringify(leaf)}\n`, 0o600);
  }

  /** Removes a leaf (a service that left this agent). */
  async remove(id: Identity): Promise<void> {
    await fs.rm(join(this.dir, cacheFileName(id)), { force: true });
  }
}
