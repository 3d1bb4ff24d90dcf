/**
 * Shared by the CA integration tests: a root and a cluster intermediate made with the CA library,
 * the agents' `ca { }` configuration, and reading leaves and roots through the HTTP API.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createIntermediate, createRoot, writeMaterial, type CaMaterial } from '../../ca/src';
import { systemClock } from '../../agent/src/core/clock';
import { Cluster, http, waitFor, type TestAgent } from './harness';

export const TRUST_DOMAIN = 'shoal.it';

/** Files of the CA material a test cluster uses. */
export interface CaFiles {
  dir: string;
  root: CaMaterial;
  intermediate: CaMaterial;
  rootCert: string;
  rootKey: string;
  intermediateCert: string;
  intermediateKey: string;
  tokenFile: string;
}

/** Makes a root (as `shoal ca init` would) and a dc1 intermediate under it, and a bootstrap token file. */
export async function makeCaFiles(cluster: Cluster, name = 'pki'): Promise<CaFiles> {
  const dir = join(cluster.root, name);
  const root = await createRoot({ trustDomain: TRUST_DOMAIN, clock: systemClock });
  const intermediate = await createIntermediate({ root, datacenter: 'dc1', trustDomain: TRUST_DOMAIN, clock: systemClock });
  const r = await writeMaterial(dir, 'root-ca', root);
  const i = await writeMaterial(dir, 'dc1-intermediate', intermediate);
  const tokenFile = join(dir, 'ca-bootstrap-token');
  writeFileSync(tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  return { dir, root, intermediate, rootCert: r.certPath, rootKey: r.keyPath, intermediateCert: i.certPath, intermediateKey: i.keyPath, tokenFile };
}

/** Agent configuration with the CA on: servers get the intermediate. */
export function caConfig(files: CaFiles, server: boolean, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server,
    profile: 'local',
    ca: {
      trust_domain: TRUST_DOMAIN, bootstrap_token_file: files.tokenFile, root_cert_file: files.rootCert,
      ...(server ? { intermediate_cert_file: files.intermediateCert, intermediate_key_file: files.intermediateKey } : {}),
      ...extra,
    },
  };
}

/** Consul's IssuedCert, as far as the tests read it. */
export interface IssuedCert {
  SerialNumber: string;
  CertPEM: string;
  PrivateKeyPEM: string;
  ServiceURI: string;
  ValidBefore: string;
}

/** GET /v1/agent/connect/ca/leaf/:service. */
export async function leaf(agent: TestAgent, service: string, timeoutMs = 35_000): Promise<{ status: number; cert?: IssuedCert; text: string }> {
  const r = await http(agent.base, 'GET', `/v1/agent/connect/ca/leaf/${service}`, undefined, timeoutMs);
  return { status: r.status, cert: r.status === 200 ? (JSON.parse(r.text) as IssuedCert) : undefined, text: r.text };
}

/** The concatenated root PEMs (`?pem=true`). */
export async function rootsPem(agent: TestAgent): Promise<string> {
  const r = await http(agent.base, 'GET', '/v1/agent/connect/ca/roots?pem=true', undefined, 5_000);
  if (r.status !== 200) throw new Error(`${agent.name}: roots -> ${r.status} ${r.text}`);
  return r.text;
}

/** Registers `service` (with a sidecar) on `agent`. */
export async function registerWithSidecar(agent: TestAgent, service: string, port: number): Promise<void> {
  const r = await http(agent.base, 'PUT', '/v1/agent/service/register', { Name: service, Port: port, Connect: { SidecarService: {} } });
  if (r.status !== 200) throw new Error(`${agent.name}: register ${service} -> ${r.status} ${r.text}`);
}

/** Waits until `agent` serves a leaf for `service`. */
export async function waitLeaf(agent: TestAgent, service: string, timeoutMs = 30_000): Promise<IssuedCert> {
  let last = '';
  return waitFor(`${agent.name} to serve a leaf for ${service}`, async () => {
    const r = await leaf(agent, service, 10_000);
    last = `${r.status} ${r.text.slice(0, 300)}`;
    return r.cert;
  }, { timeoutMs, everyMs: 250, describe: () => last });
}

/** `/v1/connect/ca/status`, parsed. */
export async function caStatus(agent: TestAgent): Promise<{ ActiveRootID: string; RootIDs: string[]; Rotation: { Phase: string; Coordinator: string; Term: number; Blockers: Array<{ Member: string; Reason: string }> } | null; Members: Array<Record<string, unknown>> }> {
  const r = await http(agent.base, 'GET', '/v1/connect/ca/status', undefined, 5_000);
  if (r.status !== 200) throw new Error(`${agent.name}: status -> ${r.status} ${r.text}`);
  return JSON.parse(r.text) as Awaited<ReturnType<typeof caStatus>>;
}

/** Splits a CertPEM (leaf then chain) into certificates. */
export function splitPem(pem: string): string[] {
  return [...pem.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)].map((m) => (m[0].endsWith('\n') ? m[0] : `${m[0]}\n`));
}
