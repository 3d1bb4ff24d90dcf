/**
 * A simulated cluster whose members each run the real CaLayer (trust bundle on gossip channel 3, leaf
 * manager, CA server role and rotation coordinator on servers) over the real memberlist on the
 * in-memory network and a virtual clock. CSRs travel through an in-memory transport that applies the
 * server's authorization (`CaServerRole.signFor`) instead of gRPC.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaError, CaLocalErrorCode, inspectCsr, parseSpiffeId } from '../../../ca/src';
import { GossipMux } from '../../src/agent/gossip-mux';
import { CaLayer } from '../../src/ca-client';
import type { SignTransport } from '../../src/ca-client';
import { sanUris } from '../../src/ca-client/intermediate-transfer';
import type { CatalogReader, LocalServices, ServiceRecord } from '../../src/catalog/types';
import type { ConfigEntries } from '../../src/config-entries';
import { noopLogger } from '../../src/core/logger';
import { SimCluster } from '../../../e2e/sim/sim-cluster';
import { settle } from './fake-mux';
import { DC, TD, type RotationPki } from './pki';

/** One simulated agent. */
export interface SimAgent {
  name: string;
  server: boolean;
  ca: CaLayer;
  services: ServiceRecord[];
}

const TOKEN = 'sim-bootstrap-token-0123456789';

/** A sidecar registration for `service`. */
export function sidecar(service: string): ServiceRecord {
  return {
    id: `${service}-sidecar-proxy`, name: `${service}-sidecar-proxy`, kind: 'connect-proxy', address: '', port: 21000, tags: [], meta: {},
    weights: { passing: 1, warning: 1 }, enableTagOverride: false, namespace: 'default', source: 'api',
    proxy: { destinationServiceName: service, destinationServiceId: service, localServiceAddress: '127.0.0.1', localServicePort: 8080, upstreams: [], config: {} },
  };
}

/** The cluster. */
export class CaSim {
  readonly c = new SimCluster({ seed: 11, delegate: (name) => this.mux(name) });
  readonly agents = new Map<string, SimAgent>();
  readonly dir = mkdtempSync(join(tmpdir(), 'shoal-ca-sim-'));
  private readonly muxes = new Map<string, GossipMux>();

  /**
   * Starts `servers` servers and `clients` clients, converged, each with a CA layer, under `pki`'s old
   * root (make the PKI on this cluster's clock, so validity periods match its virtual wall time).
   */
  async start(pki: RotationPki, servers: number, clients: number, opts: { reissueMinMs?: number } = {}): Promise<void> {
    writeFileSync(join(this.dir, 'root.pem'), pki.oldRoot.certPem);
    writeFileSync(join(this.dir, 'int.pem'), pki.oldInt.certPem);
    writeFileSync(join(this.dir, 'int-key.pem'), pki.oldInt.keyPem, { mode: 0o600 });
    const names = [...Array.from({ length: servers }, (_, i) => `s${i}`), ...Array.from({ length: clients }, (_, i) => `c${i}`)];
    for (const n of names) await this.c.add(n, { role: n.startsWith('s') ? 'client,server' : 'client', dc: DC });
    await this.c.addConverged(0);
    const states = this.c.nodes.map((s) => ({ ...s.ml.localMember(), state: 'alive' as const }));
    for (const s of this.c.nodes) s.ml.restoreMembers(states.map((m) => ({ name: m.name, addr: m.addr, incarnation: m.incarnation, state: 'alive', tags: m.tags, protocol: m.protocol })));
    for (const n of names) await this.startAgent(n, opts.reissueMinMs ?? 30_000);
  }

  private mux(name: string): GossipMux {
    const m = new GossipMux();
    this.muxes.set(name, m);
    return m;
  }

  private async startAgent(name: string, minReissueMs: number): Promise<void> {
    const node = this.c.node(name);
    const mux = this.muxes.get(name)!;
    mux.attach(node.ml);
    const server = name.startsWith('s');
    const agent: SimAgent = { name, server, services: name.startsWith('c') ? [sidecar(`svc-${name}`)] : [], ca: undefined as unknown as CaLayer };
    const local = { services: () => agent.services, subscribe: () => () => {} } as unknown as LocalServices;
    const catalog = { node: (n: string) => { const a = this.agents.get(n); return a === undefined ? undefined : { services: a.services }; } } as unknown as CatalogReader;
    const baseTags = { ...node.ml.localMember().tags };
    agent.ca = new CaLayer({
      config: {
        trustDomain: TD, bootstrapToken: TOKEN, bootstrapTokenFile: undefined, rootCertFile: join(this.dir, 'root.pem'),
        intermediateCertFile: server ? join(this.dir, 'int.pem') : undefined, intermediateKeyFile: server ? join(this.dir, 'int-key.pem') : undefined,
        leafTtlMs: 72 * 3_600_000, signRatePerSec: 50, signBurst: 50,
      },
      dev: false, server, nodeName: name, datacenter: DC, dataDir: undefined, grpcHost: '0.0.0.0', grpcPort: 0, defaultIntentionPolicy: 'deny',
      local, catalog: () => catalog, configEntries: { list: () => [] } as unknown as ConfigEntries,
      clock: this.c.clock, random: this.c.random.fork(), logger: noopLogger, transport: this.transport(),
      onTagsChanged: () => node.ml.setTags({ ...baseTags, ...agent.ca.tags() }),
      tuning: { rotationTickMs: 500, reconcileMs: 1000, minReissueWindowMs: minReissueMs },
    });
    this.agents.set(name, agent);
    await agent.ca.prepare();
    agent.ca.attach(mux, node.ml);
    await agent.ca.start();
  }

  /** kill -9 of one agent: its gossip stops at once and its CA timers with it (nothing is handed over). */
  async crash(name: string): Promise<void> {
    this.c.crash(name);
    await this.agents.get(name)!.ca.stop();
  }

  /** Calls reach the server whose gossip host the address names, with the caller's identity from its certificate. */
  private transport(): SignTransport {
    return async (addr, req, auth) => {
      const host = addr.slice(0, addr.lastIndexOf(':'));
      const target = this.c.live().find((n) => n.addr.startsWith(`${host}:`));
      const server = target === undefined ? undefined : this.agents.get(target.name)?.ca.server;
      if (server === undefined) throw new CaError(CaLocalErrorCode.unavailable, `${addr} unreachable`, true);
      const identity = inspectCsr(req.csrPem).identity;
      let caller: string;
      if (auth.clientCertPem !== undefined) {
        const id = parseSpiffeId(sanUris(new X509Certificate(auth.clientCertPem))[0]!);
        if (id.kind !== 'agent') throw new Error('not an agent');
        caller = id.node;
      } else if (auth.bootstrapToken === TOKEN && identity.kind === 'agent') {
        caller = identity.node;
      } else {
        throw new CaError('SHOAL_ERR_CA_UNAUTHENTICATED', 'no credentials');
      }
      return server.signFor(caller, req.csrPem, identity, req.ttlMs);
    };
  }

  /** Advances virtual time in steps, letting real async work (key generation, gossip streams) finish between steps. */
  async run(ms: number, stepMs = 100): Promise<void> {
    const end = this.c.clock.now() + ms;
    while (this.c.clock.now() < end) {
      await this.c.clock.advanceAsync(Math.min(stepMs, end - this.c.clock.now()), stepMs);
      await this.idle();
    }
  }

  /** Runs until `pred` holds (or throws after `maxMs` of virtual time); returns the virtual ms taken. */
  async until(pred: () => boolean, maxMs: number, what: string, stepMs = 100): Promise<number> {
    const t0 = this.c.clock.now();
    while (!pred()) {
      if (this.c.clock.now() - t0 > maxMs) throw new Error(`simulation: ${what} not reached within ${maxMs} virtual ms`);
      await this.run(stepMs, stepMs);
    }
    return this.c.clock.now() - t0;
  }

  async idle(): Promise<void> {
    await settle(3);
    for (let i = 0; i < 5000 && [...this.agents.values()].some((a) => a.ca.leaves.busy()); i++) await settle(1);
  }

  /** Every live member's view of every live member's tag `key`. */
  tagEverywhere(key: string, value: string): boolean {
    const live = this.c.live();
    return live.every((o) => live.every((m) => o.ml.member(m.name)?.tags[key] === value));
  }

  async shutdown(): Promise<void> {
    for (const a of this.agents.values()) await a.ca.stop();
    await this.c.shutdown();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
