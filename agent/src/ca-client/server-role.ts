/**
 * The CA on a server agent: the leaf signer over this cluster's intermediate, the gRPC `Sign`
 * service on the bind address and `ports.grpc` (7501), and the server's part of a root rotation
 * (switching to a new intermediate, handing it to the cluster's other servers). Authorization of
 * service leaves reads this server's own replica of the catalog: a service leaf is signed only for a
 * service (or the destination of a sidecar) registered on the calling agent's node.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import {
  CaServer, certInfo, LeafSigner, parseSpiffeId, type CaServerMetrics, type CaServerTls, type Identity, type ServiceAuthorizer,
  type SignResponse,
} from '../../../ca/src';
import type { CatalogReader } from '../catalog/types';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { BundleMessage } from './bundle-record';
import { openKey, sealKey, verifyChain } from './intermediate-transfer';
import { writePersistedSigner, type SignerMaterial } from './signer-material';
import type { TrustBundleStore } from './trust-bundle';

/** Options of CaServerRole. */
export interface CaServerRoleOptions {
  nodeName: string;
  datacenter: string;
  trustDomain: string;
  dataDir: string | undefined;
  /** gRPC listener; undefined runs no listener (simulations sign through `signFor`). */
  grpc?: { host: string; port: number };
  bootstrapToken: string | undefined;
  rateLimit: { ratePerSec: number; burst: number };
  leafTtlMs: number;
  bundle: TrustBundleStore;
  clock: Clock;
  /** The agent's logger (the gRPC server adds its own component name). */
  logger: Logger;
  metrics?: CaServerMetrics;
  /** Called after the signer changed (rotation step 3), so tags follow at once. */
  onSwitched?: () => void;
}

/** The `ca_grpc` port announced by a server without a listener (simulations). */
export const SIMULATED_PORT = 7501;

/** Whether a node is a live server member of this cluster (asked before handing out an intermediate). */
export type ServerMemberCheck = (node: string) => boolean;

/** A server's signing side. */
export class CaServerRole {
  private material: SignerMaterial;
  private stagedMaterial: SignerMaterial | undefined;
  private signer: LeafSigner;
  private server: CaServer | undefined;
  private boundPort: number | undefined;
  private readonly log: Logger;

  constructor(private readonly o: CaServerRoleOptions, initial: SignerMaterial, private readonly authorizeFn: ServiceAuthorizer) {
    this.log = o.logger.child({ component: 'ca' });
    this.material = initial;
    this.signer = this.makeSigner(initial);
  }

  /** The material in use. */
  get current(): SignerMaterial {
    return this.material;
  }

  /** A rotation's new intermediate held ahead of step 3 (not signed with), so any server can take the rotation over. */
  get staged(): SignerMaterial | undefined {
    return this.stagedMaterial;
  }

  /** Keeps `m` for hand-off to the cluster's other servers without signing under it (memory only). */
  stage(m: SignerMaterial): void {
    this.stagedMaterial = m;
  }

  /** Root the signer chains to (`ca_root`). */
  get rootId(): string {
    return this.material.rootId;
  }

  /** The bound gRPC port, once started. */
  get port(): number | undefined {
    return this.boundPort;
  }

  /** Signs a leaf for this agent's own identities, without the network (and without the rate limit). */
  signOwn(csrPem: string, identity: Identity, ttlMs: number): Promise<SignResponse> {
    return this.signer.sign(csrPem, identity, ttlMs);
  }

  /**
   * The checks the gRPC server applies, for in-memory transports (simulations): authorization of a
   * service identity for `callerNode`, then signing.
   */
  async signFor(callerNode: string, csrPem: string, identity: Identity, ttlMs: number | undefined): Promise<SignResponse> {
    if (identity.kind === 'service' && !this.authorizeFn(callerNode, identity.datacenter, identity.service)) {
      throw Object.assign(new Error(`service ${identity.service} is not registered on node ${callerNode}`), { code: 'SHOAL_ERR_CA_FORBIDDEN' });
    }
    if (identity.kind === 'agent' && identity.node !== callerNode) throw new Error('an agent may ask only for its own agent certificate');
    return this.signer.sign(csrPem, identity, ttlMs);
  }

  /** Starts the gRPC service with `tls` (this server's agent leaf); resolves with the bound port. */
  async start(tls: CaServerTls): Promise<number | undefined> {
    // Simulations have no listener; they announce the default port and route calls in memory.
    if (this.o.grpc === undefined) return (this.boundPort = SIMULATED_PORT);
    this.server = new CaServer({
      host: this.o.grpc.host, port: this.o.grpc.port, tls, signer: this.signer, trustDomain: this.o.trustDomain,
      datacenter: this.o.datacenter, bootstrapToken: this.o.bootstrapToken, authorize: this.authorizeFn,
      rateLimit: this.o.rateLimit, clock: this.o.clock, logger: this.o.logger, metrics: this.o.metrics,
    });
    this.boundPort = await this.server.start();
    return this.boundPort;
  }

  /** New TLS material for new connections (a renewed agent leaf, a changed bundle). */
  updateTls(tls: CaServerTls): void {
    this.server?.updateTls(tls);
  }

  /** Switches to `m` (rotation step 3): signs under it from now on and keeps it across restarts. */
  async switchTo(m: SignerMaterial): Promise<void> {
    const signer = this.makeSigner(m);
    if (this.o.dataDir !== undefined) await writePersistedSigner(this.o.dataDir, m);
    this.material = m;
    this.signer = signer;
    this.server?.setSigner(signer);
    this.log.info({ intermediate: m.intermediateId, root: m.rootId }, 'CA signer switched to a new intermediate');
    this.o.onSwitched?.();
  }

  /**
   * Answers another server's request for the intermediate it must switch to (or stage ahead of step
   * 3): only when we sign with it or hold it staged, and only to a live server of this cluster whose
   * agent certificate chains to the bundle. The key is sealed to that certificate.
   */
  answerFetch(m: Extract<BundleMessage, { t: 'fetch-intermediate' }>, isServer: ServerMemberCheck): BundleMessage | undefined {
    const material = [this.material, this.stagedMaterial].find((x) => x?.intermediateId === m.intermediateId);
    if (material === undefined) return undefined;
    const view = this.o.bundle.view();
    try {
      const uris = verifyChain(m.agentCertPem, m.agentChainPem, view.intermediates.map((i) => i.pem), view.roots.map((r) => r.pem), this.o.clock.wallNow());
      const id = parseSpiffeId(uris[0] ?? '');
      if (id.kind !== 'agent' || id.trustDomain !== this.o.trustDomain || id.datacenter !== this.o.datacenter) throw new Error(`${uris[0]} is not an agent of this cluster`);
      if (!isServer(id.node)) throw new Error(`${id.node} is not a live server of this cluster`);
      this.log.info({ node: id.node, intermediate: m.intermediateId }, 'handing the new intermediate to a server');
      return { t: 'intermediate', certPem: material.certPem, sealedKey: sealKey(material.keyPem, m.agentCertPem) };
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'refused a request for the intermediate');
      return undefined;
    }
  }

  /** Stops the gRPC service. */
  async stop(): Promise<void> {
    await this.server?.stop().catch(() => {});
  }

  private makeSigner(m: SignerMaterial): LeafSigner {
    return new LeafSigner({
      intermediate: { certPem: m.certPem, keyPem: m.keyPem }, chainPem: m.chainPem, rootId: m.rootId, clock: this.o.clock,
      defaultTtlMs: this.o.leafTtlMs, maxTtlMs: Math.max(this.o.leafTtlMs, 365 * 24 * 3_600_000),
    });
  }
}

/** The authorizer over a catalog replica: `service` is registered (or is a sidecar's destination) on `node`. */
export function catalogAuthorizer(catalog: () => CatalogReader | undefined, datacenter: string): ServiceAuthorizer {
  return (node, dc, service) => {
    if (dc !== datacenter) return false;
    const n = catalog()?.node(node);
    if (n === undefined) return false;
    return n.services.some((s) => s.name === service || (s.kind === 'connect-proxy' && s.proxy?.destinationServiceName === service));
  };
}

/** Opens a fetched intermediate with this agent's key and checks it is the one asked for. */
export function openFetched(answer: BundleMessage, agentKeyPem: string, intermediateId: string): { certPem: string; keyPem: string } {
  if (answer.t !== 'intermediate') throw new Error(`unexpected answer ${answer.t}`);
  const keyPem = openKey(answer.sealedKey, agentKeyPem);
  const cert = new X509Certificate(answer.certPem);
  if (!cert.ca || certInfo(answer.certPem).skiHex !== intermediateId) throw new Error('the fetched certificate is not the intermediate asked for');
  if (!cert.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the fetched key does not belong to the intermediate');
  return { certPem: answer.certPem, keyPem };
}
