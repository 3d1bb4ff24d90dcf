/**
 * What `bench:proxy` sets up before it measures: addresses and ports, the CA material (made with the
 * CA library: a root, a dc1 intermediate, ECDSA P-256 leaves with SPIFFE URI SANs, as Shoal issues
 * them), the two haproxy configurations and the two agents' configurations.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemClock } from '../../agent/src/core/clock';
import {
  createCsr, createIntermediate, createRoot, exportKeyPem, generateKeyPair, LeafSigner, writeMaterial, type Identity,
} from '../../ca/src';

/** Everything listens on 127.0.10.x: this benchmark owns that range. */
export const ADDR = {
  /** Agent A (server role): the client side, with the upstream listener. */
  agentA: '127.0.10.1',
  /** Agent B (client role): hosts `bench-app`, with the inbound mTLS listener. */
  agentB: '127.0.10.2',
  /** The HTTP app every path ends at. */
  app: '127.0.10.3',
  /** haproxy A: plain TCP in, mTLS out. */
  haproxyA: '127.0.10.4',
  /** haproxy B: mTLS in, plain TCP to the app. */
  haproxyB: '127.0.10.5',
  /** Node TCP relay A (the floor baseline): plain TCP in, plain TCP to relay B. */
  relayA: '127.0.10.6',
  /** Node TCP relay B: plain TCP in, plain TCP to the app. */
  relayB: '127.0.10.7',
} as const;

/** Ports (each on its own address above). */
export const PORT = {
  app: 18080,
  haproxyA: 18081,
  haproxyB: 18443,
  relayA: 18082,
  relayB: 18083,
  /** Agent A's upstream listener for `bench-app` (`local_bind_port`). */
  upstream: 19001,
  /** Sidecar inbound ports, explicit so the two agents never race for 21000. */
  sidecarA: 21010,
  sidecarB: 21011,
  agentHttp: 7500,
} as const;

export const TRUST_DOMAIN = 'bench.shoal';
const DC = 'dc1';

/** Files of the CA material. */
export interface Pki {
  rootCert: string;
  intermediateCert: string;
  intermediateKey: string;
  tokenFile: string;
  /** haproxy `crt` files: leaf, intermediate, key. */
  haproxyClientPem: string;
  haproxyServerPem: string;
}

function serviceId(service: string): Identity {
  return { kind: 'service', trustDomain: TRUST_DOMAIN, namespace: 'default', datacenter: DC, service };
}

/** Makes the root, the intermediate, two service leaves for haproxy and the agents' bootstrap token. */
export async function makePki(dir: string): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  const root = await createRoot({ trustDomain: TRUST_DOMAIN, clock: systemClock });
  const intermediate = await createIntermediate({ root, datacenter: DC, trustDomain: TRUST_DOMAIN, clock: systemClock });
  const r = await writeMaterial(dir, 'root-ca', root);
  const i = await writeMaterial(dir, 'dc1-intermediate', intermediate);
  const signer = new LeafSigner({ intermediate, chainPem: [intermediate.certPem], rootId: root.id, clock: systemClock });
  const leafPem = async (service: string): Promise<string> => {
    const keys = await generateKeyPair();
    const id = serviceId(service);
    const res = await signer.sign(await createCsr({ identity: id, keys }), id);
    return [res.certPem, ...res.chainPem, await exportKeyPem(keys.privateKey)].map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join('');
  };
  const haproxyClientPem = join(dir, 'haproxy-client.pem');
  const haproxyServerPem = join(dir, 'haproxy-server.pem');
  // Same identities as the Shoal pair: the caller is bench-client, the destination bench-app.
  writeFileSync(haproxyClientPem, await leafPem('bench-client'), { mode: 0o600 });
  writeFileSync(haproxyServerPem, await leafPem('bench-app'), { mode: 0o600 });
  const tokenFile = join(dir, 'ca-bootstrap-token');
  writeFileSync(tokenFile, `${randomBytes(24).toString('hex')}\n`, { mode: 0o600 });
  return { rootCert: r.certPath, intermediateCert: i.certPath, intermediateKey: i.keyPath, tokenFile, haproxyClientPem, haproxyServerPem };
}

/**
 * The two haproxy configurations. Both run one thread (`nbthread 1`) in `mode tcp`, as Shoal's data
 * plane runs one worker thread per agent; no logging, default TLS settings (TLS 1.3, session
 * resumption on the A -> B hop). haproxy checks the peer's chain against the root, not its SPIFFE ID.
 */
export function haproxyConfigs(pki: Pki): { a: string; b: string } {
  const common = [
    'global',
    '  nbthread 1',
    // Two fds per proxied connection, within the usual 20000 open-file limit.
    '  maxconn 4000',
    'defaults',
    '  mode tcp',
    '  timeout connect 5s',
    '  timeout client 60s',
    '  timeout server 60s',
  ];
  const a = [
    ...common,
    'frontend plain_in',
    `  bind ${ADDR.haproxyA}:${PORT.haproxyA}`,
    '  default_backend mtls_out',
    'backend mtls_out',
    `  server b ${ADDR.haproxyB}:${PORT.haproxyB} ssl crt ${pki.haproxyClientPem} ca-file ${pki.rootCert} verify required`,
    '',
  ].join('\n');
  const b = [
    ...common,
    'frontend mtls_in',
    `  bind ${ADDR.haproxyB}:${PORT.haproxyB} ssl crt ${pki.haproxyServerPem} ca-file ${pki.rootCert} verify required`,
    '  default_backend app',
    'backend app',
    `  server app ${ADDR.app}:${PORT.app}`,
    '',
  ].join('\n');
  return { a, b };
}

/** The `ca { }` block and common settings of both agents. */
function agentBase(pki: Pki, server: boolean): Record<string, unknown> {
  return {
    server,
    profile: 'local',
    // No access logs on either side of the comparison (haproxy logs nothing here).
    log_level: 'warn',
    default_intention_policy: 'allow',
    ca: {
      trust_domain: TRUST_DOMAIN, bootstrap_token_file: pki.tokenFile, root_cert_file: pki.rootCert,
      ...(server ? { intermediate_cert_file: pki.intermediateCert, intermediate_key_file: pki.intermediateKey } : {}),
    },
  };
}

/**
 * Agent A: `bench-client` (no real app behind it) with an upstream to `bench-app` on
 * ADDR.agentA:PORT.upstream. Agent B: `bench-app`, whose sidecar forwards to the app.
 */
export function agentConfigs(pki: Pki): { a: Record<string, unknown>; b: Record<string, unknown> } {
  const a = {
    ...agentBase(pki, true),
    service: {
      name: 'bench-client',
      port: PORT.app + 10, // nothing listens there: nothing calls bench-client
      connect: {
        sidecar_service: {
          port: PORT.sidecarA,
          proxy: { upstreams: [{ destination_name: 'bench-app', local_bind_address: ADDR.agentA, local_bind_port: PORT.upstream }] },
        },
      },
    },
  };
  const b = {
    ...agentBase(pki, false),
    service: {
      name: 'bench-app',
      port: PORT.app,
      connect: { sidecar_service: { port: PORT.sidecarB, proxy: { local_service_address: ADDR.app } } },
    },
  };
  return { a, b };
}
