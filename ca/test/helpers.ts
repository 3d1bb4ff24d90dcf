/** Shared fixtures for the CA tests: a PKI on a given clock, openssl, temporary directories. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../agent/src/core/clock';
import {
  createCsr, createIntermediate, createRoot, generateKeyPair, LeafSigner, type CaMaterial, type CryptoKeyPair, type Identity,
  type LeafSignerOptions, type SignResponse,
} from '../src';

export const TD = 'example.org';
export const DC = 'dc1';

/** A root, one intermediate under it, and a signer with that intermediate. */
export interface Pki {
  root: CaMaterial;
  intermediate: CaMaterial;
  signer: LeafSigner;
}

/** Builds a PKI for `TD`/`DC` on `clock`. */
export async function makePki(clock: Clock, signerOpts: Partial<LeafSignerOptions> = {}): Promise<Pki> {
  const root = await createRoot({ trustDomain: TD, clock });
  const intermediate = await createIntermediate({ root, datacenter: DC, trustDomain: TD, clock });
  const signer = new LeafSigner({ intermediate, chainPem: [intermediate.certPem], rootId: root.id, clock, ...signerOpts });
  return { root, intermediate, signer };
}

export const serviceId = (service: string, dc = DC, td = TD): Identity => ({ kind: 'service', trustDomain: td, namespace: 'default', datacenter: dc, service });
export const agentId = (node: string, dc = DC, td = TD): Identity => ({ kind: 'agent', trustDomain: td, datacenter: dc, node });

/** A key pair and a CSR for `identity`. */
export async function csrFor(identity: Identity): Promise<{ keys: CryptoKeyPair; csrPem: string }> {
  const keys = await generateKeyPair();
  return { keys, csrPem: await createCsr({ identity, keys }) };
}

/** Runs openssl; `input` goes to stdin. */
export function openssl(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('openssl', args, { input, encoding: 'utf8' });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** A temporary directory, removed by the returned function. */
export function tempDir(prefix = 'shoal-ca-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes PEMs into `dir` and returns their paths. */
export function writePems(dir: string, files: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, pem] of Object.entries(files)) {
    out[name] = join(dir, name);
    writeFileSync(out[name]!, pem);
  }
  return out;
}

/**
 * `openssl verify -CAfile root -untrusted <chain> leaf`, at `atMs` (Unix ms) when given, since
 * certificates made on a VirtualClock are valid in 2026-01, not now.
 */
export function opensslVerify(dir: string, rootPem: string, untrustedPems: string[], leafPem: string, atMs?: number): { ok: boolean; out: string } {
  const p = writePems(dir, { 'v-root.pem': rootPem, 'v-untrusted.pem': untrustedPems.join(''), 'v-leaf.pem': leafPem });
  const args = ['verify', '-CAfile', p['v-root.pem']!];
  if (untrustedPems.length > 0) args.push('-untrusted', p['v-untrusted.pem']!);
  if (atMs !== undefined) args.push('-attime', String(Math.floor(atMs / 1000)));
  args.push(p['v-leaf.pem']!);
  const r = openssl(args);
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

/** The leaf and its chain as one PEM (what a TLS endpoint presents). */
export const fullChain = (res: SignResponse): string => res.certPem + res.chainPem.join('');
