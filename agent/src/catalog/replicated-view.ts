/**
 * What queries see of the replicated catalog: each node's state as readers get it (frozen, the
 * node-health `serfHealth` check added, every check tagged with its node), and an index of the
 * visible instances by service name and by connect destination, rebuilt lazily after a change.
 */
import {
  aggregateStatus, type CheckRecord, type HealthStatus, type NodeCatalog, type ServiceInstance,
} from './types';

/** A check as catalog queries return it: with the node it runs on (Consul's HealthCheck.Node). */
export interface CatalogCheck extends CheckRecord {
  node: string;
}

/** Consul's node-health check id. */
export const SERF_CHECK_ID = 'serfHealth';

/**
 * The node-level check that follows gossip state. Only nodes that gossip holds alive or suspect are
 * visible, so on every visible node it passes (Consul shows it critical on failed nodes; Shoal
 * removes failed nodes from answers instead). It is computed by the reader, never spread: a node
 * reporting its own health would say nothing.
 */
export function serfCheck(node: string): CatalogCheck {
  return Object.freeze({
    node, checkId: SERF_CHECK_ID, name: 'Serf Health Status', status: 'passing' as HealthStatus, notes: '',
    output: 'Agent alive and reachable', serviceId: '', serviceName: '', serviceTags: Object.freeze([]) as readonly string[],
    type: 'serf' as const, interval: '', timeout: '',
  });
}

/** A node's state prepared for queries. */
export interface NodeView {
  /** The node as readers get it: frozen, checks with `node`, serfHealth first. */
  readonly node: NodeCatalog;
  readonly instances: readonly ServiceInstance[];
}

/** Builds the read-only view of one node's state. */
export function buildNodeView(state: NodeCatalog): NodeView {
  const checks: CatalogCheck[] = [serfCheck(state.node)];
  for (const c of state.checks) if (c.type !== 'serf') checks.push(Object.freeze({ ...c, node: state.node }));
  const node: NodeCatalog = Object.freeze({ ...state, checks: Object.freeze(checks) });
  const nodeChecks = checks.filter((c) => c.serviceId === '');
  const byService = new Map<string, CatalogCheck[]>();
  for (const c of checks) {
    if (c.serviceId === '') continue;
    let list = byService.get(c.serviceId);
    if (list === undefined) byService.set(c.serviceId, (list = []));
    list.push(c);
  }
  const instances = [...state.services]
    .sort((a, b) => cmp(a.id, b.id))
    .map((service): ServiceInstance => Object.freeze({
      node, service, checks: Object.freeze([...nodeChecks, ...(byService.get(service.id) ?? [])]),
    }));
  return { node, instances: Object.freeze(instances) };
}

/** The query index over the visible nodes. */
export class QueryIndex {
  readonly nodes: NodeCatalog[];
  private readonly byName = new Map<string, ServiceInstance[]>();
  private readonly byDestination = new Map<string, ServiceInstance[]>();
  private servicesMap: Map<string, string[]> | undefined;

  /** @param views visible nodes' views, in any order */
  constructor(views: readonly NodeView[]) {
    const sorted = [...views].sort((a, b) => cmp(a.node.node, b.node.node));
    this.nodes = sorted.map((v) => v.node);
    for (const v of sorted) {
      for (const inst of v.instances) {
        push(this.byName, inst.service.name, inst);
        const dest = inst.service.proxy?.destinationServiceName;
        if (inst.service.kind === 'connect-proxy' && dest !== undefined) push(this.byDestination, dest, inst);
      }
    }
  }

  /** Service name to the sorted union of its instances' tags, names sorted. */
  services(): Map<string, string[]> {
    if (this.servicesMap === undefined) {
      const out = new Map<string, string[]>();
      for (const name of [...this.byName.keys()].sort(cmp)) {
        const tags = new Set<string>();
        for (const inst of this.byName.get(name)!) for (const t of inst.service.tags) tags.add(t);
        out.set(name, [...tags].sort(cmp));
      }
      this.servicesMap = out;
    }
    return new Map([...this.servicesMap].map(([k, v]) => [k, [...v]]));
  }

  /** Instances of `name` (or, with `connect`, the sidecar proxies whose destination is `name`). */
  instances(name: string, opts: { tag?: string; passingOnly?: boolean; connect?: boolean } = {}): ServiceInstance[] {
    const all = (opts.connect === true ? this.byDestination : this.byName).get(name) ?? [];
    return all.filter((i) =>
      (opts.tag === undefined || i.service.tags.includes(opts.tag)) &&
      (opts.passingOnly !== true || aggregateStatus(i.checks) === 'passing'));
  }

  /** Service-level checks of every instance of `name`. */
  serviceChecks(name: string): CheckRecord[] {
    const out: CheckRecord[] = [];
    for (const i of this.byName.get(name) ?? []) for (const c of i.checks) if (c.serviceId === i.service.id) out.push(c);
    return out;
  }

  /** Every check on visible nodes in `status` ('any' for all), by node then check id. */
  checksInState(status: HealthStatus | 'any'): CheckRecord[] {
    const out: CheckRecord[] = [];
    for (const n of this.nodes) {
      const sorted = [...n.checks].sort((a, b) => cmp(a.checkId, b.checkId));
      for (const c of sorted) if (status === 'any' || c.status === status) out.push(c);
    }
    return out;
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list === undefined) m.set(k, [v]);
  else list.push(v);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
