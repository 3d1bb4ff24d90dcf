/**
 * Where a server's signing material comes from, and which one it uses:
 * - the configured files (`ca.intermediate_cert_file`, `ca.intermediate_key_file`, from `shoal ca
 *   intermediate`);
 * - `<data_dir>/ca/signer.json` (0600), written when a root rotation switched this server to a new
 *   intermediate, so a restart keeps signing under the new root even though the files still name
 *   the old intermediate;
 * - in dev mode, a root and an intermediate generated in memory at start.
 * `chooseSigner` picks among them with the trust bundle: only material whose root the bundle holds,
 * the active root's first, then the newest.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import {
  certInfo, createIntermediate, createRoot, readMaterial, type CaMaterial, type CertAndKey,
} from '../../../ca/src';
import { writeFileAtomic } from '../agent/atomic-file';
import type { Clock } from '../core/clock';

/** File of a rotated-in signer, under the data directory. */
export const SIGNER_FILE = join('ca', 'signer.json');

/** An intermediate a server can sign with. */
export interface SignerMaterial extends CertAndKey {
  /** Sent with leaves: the intermediate first, then cross-signed copies. */
  chainPem: string[];
  /** Hex SKI of the root the intermediate chains to (its AKI). */
  rootId: string;
  /** Hex SKI of the intermediate. */
  intermediateId: string;
  notBeforeMs: number;
  notAfterMs: number;
}

/** Builds SignerMaterial from an intermediate (a file may hold a chain: the first certificate signs). */
export function signerMaterial(m: CertAndKey, extraChain: readonly string[] = []): SignerMaterial {
  const first = firstCert(m.certPem);
  const info = certInfo(first);
  if (!info.isCa) throw new Error('the intermediate certificate is not a CA');
  if (info.akiHex === '') throw new Error('the intermediate certificate has no authority key identifier (is it a root?)');
  return {
    certPem: first, keyPem: m.keyPem, chainPem: [first, ...extraChain.filter((p) => p.trim() !== first.trim())],
    rootId: info.akiHex, intermediateId: info.skiHex, notBeforeMs: info.notBeforeMs, notAfterMs: info.notAfterMs,
  };
}

/** Reads the configured intermediate files. */
export async function readConfiguredSigner(certPath: string, keyPath: string): Promise<SignerMaterial> {
  return signerMaterial(await readMaterial(certPath, keyPath));
}

/** Reads `<dataDir>/ca/signer.json`; undefined when absent or unreadable. */
export async function readPersistedSigner(dataDir: string): Promise<SignerMaterial | undefined> {
  try {
    const doc = JSON.parse(await fs.readFile(join(dataDir, SIGNER_FILE), 'utf8')) as { certPem: string; keyPem: string; chainPem: string[] };
    return signerMaterial({ certPem: doc.certPem, keyPem: doc.keyPem }, doc.chainPem.slice(1));
  } catch {
    return undefined;
  }
}

/** Writes `<dataDir>/ca/signer.json` (0600, atomic). */
export async function writePersistedSigner(dataDir: string, m: SignerMaterial): Promise<void> {
  await fs.mkdir(join(dataDir, 'ca'), { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dataDir, SIGNER_FILE), `${JSON.stringify({ certPem: m.certPem, keyPem: m.keyPem, chainPem: m.chainPem })}\n`, 0o600);
}

/**
 * Picks the material to sign with: among candidates whose root is in `rootIds` (when the bundle
 * knows any roots) and that are valid at `nowMs`, the one under `activeRootId`, else the newest.
 */
export function chooseSigner(candidates: readonly SignerMaterial[], rootIds: readonly string[], activeRootId: string, nowMs: number): SignerMaterial | undefined {
  const usable = candidates.filter((c) => c.notBeforeMs <= nowMs + 60_000 && nowMs < c.notAfterMs && (rootIds.length === 0 || rootIds.includes(c.rootId)));
  const pool = usable.length > 0 ? usable : candidates.filter((c) => nowMs < c.notAfterMs);
  return [...pool].sort((a, b) => Number(b.rootId === activeRootId) - Number(a.rootId === activeRootId) || b.notBeforeMs - a.notBeforeMs)[0];
}

/** Dev mode: an in-memory root and this cluster's intermediate under it. */
export async function devMaterial(trustDomain: string, datacenter: string, clock: Clock): Promise<{ root: CaMaterial; signer: SignerMaterial }> {
  const root = await createRoot({ trustDomain, clock });
  const intermediate = await createIntermediate({ root, datacenter, trustDomain, clock });
  return { root, signer: signerMaterial(intermediate) };
}

/** The first PEM certificate of a text. */
export function firstCert(pem: string): string {
  const m = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem);
  if (m === null) throw new Error('no PEM certificate found');
  return `${m[0]}\n`;
}

/** Every PEM certificate of a text. */
export function allCerts(pem: string): string[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => `${m[0]}\n`);
}
