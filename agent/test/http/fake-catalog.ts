/**
 * Fakes of the catalog interfaces (CatalogReader, LocalServices, ConfigEntries) for route, DNS and
 * CLI tests: plain in-memory state with an index that moves on every change and notifies
 * subscribers, which is all the HTTP layer and DNS rely on.
 */
import {
  ValidationError, type CatalogReader, type CheckRecord, type HealthStatus, type LocalServices, type NodeCatalog,
  type ServiceInstance, type ServiceRecord, type ValidationProblem,
} from '../../src/catalog/types';
import { CONFIG_ENTRY_KINDS, type ConfigEntries, type ConfigEntry, type StoredEntry } from '../../src/config-entries/types';

/** A service record with defaults. */
export function svc(over: Partial<ServiceRecord> & { name: string }): ServiceRecord {
  return {
    id: over.name, kind: '', address: '', port: 0, tags: [], meta: {}, weights: { passing: 1, warning: 1 },
    enableTagOverride: false, namespace: 'default', source: 'api', ...over,
  };
}

/** A check record with defaults; `serviceId` '' makes a node check. */
export function chk(over: Partial<CheckRecord> & { checkId: string }): CheckRecord {
  return {
    name: over.checkId, status: 'passing', notes: '', output: '', serviceId: '', serviceName: '', serviceTags: [],
    type: 'ttl', interval: '', timeout: '', ...over,
  };
}

/** A node with defaults. */
export function nodeCat(over: Partial<NodeCatalog> & { node: string }): NodeCatalog {
  return { address: '127.0.0.1', datacenter: 'dc1', meta: {}, version: { generation: 1, seq: 1 }, services: [], checks: [], ...over };
}

/** Listeners and an index that starts at `start` and moves on every change. */
class Changes {
  private value: number;
  private readonly listeners = new Set<() => void>();

  constructor(start: number) {
    this.value = start;
  }

  index(): number {
    return this.value;
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  bump(): number {
    this.value++;
    for (const l of [...this.listeners]) l();
    return this.value;
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}

/** A CatalogReader over a list of nodes. */
export class FakeCatalog implements CatalogReader {
  private readonly changes = new Changes(10);
  calls: string[] = [];

  constructor(private list: NodeCatalog[] = []) {}

  /** Replaces the whole catalog (one change). */
  set(nodes: NodeCatalog[]): void {
    this.list = nodes;
    this.changes.bump();
  }

  index(): number {
    return this.changes.index();
  }

  subscribe(fn: () => void): () => void {
    return this.changes.subscribe(fn);
  }

  get subscribers(): number {
    return this.changes.subscribers;
  }

  nodes(): NodeCatalog[] {
    return [...this.list];
  }

  node(name: string): NodeCatalog | undefined {
    return this.list.find((n) => n.node === name);
  }

  services(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const n of this.list) {
      for (const s of n.services) out.set(s.name, [...new Set([...(out.get(s.name) ?? []), ...s.tags])]);
    }
    return out;
  }

  instances(name: string, opts: { tag?: string; passingOnly?: boolean; connect?: boolean } = {}): ServiceInstance[] {
    this.calls.push(`instances ${name} ${JSON.stringify(opts)}`);
    const out: ServiceInstance[] = [];
    for (const n of this.list) {
      for (const s of n.services) {
        const match = opts.connect === true ? s.kind === 'connect-proxy' && s.proxy?.destinationServiceName === name : s.name === name;
        if (!match || (opts.tag !== undefined && !s.tags.includes(opts.tag))) continue;
        const checks = n.checks.filter((c) => c.serviceId === '' || c.serviceId === s.id);
        if (opts.passingOnly === true && checks.some((c) => c.status !== 'passing')) continue;
        out.push({ node: n, service: s, checks });
      }
    }
    return out;
  }

  serviceChecks(name: string): CheckRecord[] {
    return this.list.flatMap((n) => n.checks.filter((c) => c.serviceName === name));
  }

  checksInState(status: HealthStatus | 'any'): CheckRecord[] {
    return this.list.flatMap((n) => n.checks.filter((c) => status === 'any' || c.status === status));
  }
}

/** A LocalServices that accepts a small subset of Consul's registration body. */
export class FakeLocal implements LocalServices {
  private readonly changes = new Changes(3);
  readonly byId = new Map<string, ServiceRecord>();
  checkList: CheckRecord[] = [chk({ checkId: 'serfHealth', name: 'Serf Health Status', type: 'serf' })];
  calls: string[] = [];
  /** Every registration body received, as sent. */
  definitions: unknown[] = [];

  index(): number {
    return this.changes.index();
  }

  subscribe(fn: () => void): () => void {
    return this.changes.subscribe(fn);
  }

  get subscribers(): number {
    return this.changes.subscribers;
  }

  services(): ServiceRecord[] {
    return [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  checks(): CheckRecord[] {
    return [...this.checkList].sort((a, b) => (a.checkId < b.checkId ? -1 : 1));
  }

  async register(definition: unknown): Promise<ServiceRecord> {
    this.definitions.push(definition);
    const d = definition as Record<string, unknown>;
    const problems: ValidationProblem[] = [];
    const problem = (field: string, message: string): void => void problems.push({ source: 'request body', field, message });
    const name = d['Name'] ?? d['name'];
    const port = d['Port'] ?? d['port'] ?? 0;
    const tags = d['Tags'] ?? d['tags'] ?? [];
    if (typeof name !== 'string' || name === '') problem('Name', 'required: a non-empty string');
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) problem('Port', 'expected an integer from 0 to 65535');
    if (!Array.isArray(tags) || tags.some((t) => typeof t !== 'string')) problem('Tags', 'expected a list of strings');
    if (problems.length > 0) throw new ValidationError(problems);
    const id = String(d['ID'] ?? d['id'] ?? name);
    const record = svc({ id, name: name as string, port: port as number, tags: tags as string[], address: String(d['Address'] ?? ''), meta: (d['Meta'] ?? {}) as Record<string, string> });
    this.byId.set(id, record);
    this.checkList = this.checkList.filter((c) => c.serviceId !== id);
    const check = (d['Check'] ?? d['check']) as Record<string, unknown> | undefined;
    if (check !== undefined) {
      this.checkList.push(chk({ checkId: `service:${id}`, name: `Service '${name as string}' check`, status: 'critical', serviceId: id, serviceName: name as string, serviceTags: record.tags, type: (check['TTL'] ?? check['ttl']) !== undefined ? 'ttl' : 'http' }));
    }
    this.calls.push(`register ${id}`);
    this.changes.bump();
    return record;
  }

  async deregister(serviceId: string): Promise<boolean> {
    this.calls.push(`deregister ${serviceId}`);
    if (!this.byId.delete(serviceId)) return false;
    this.checkList = this.checkList.filter((c) => c.serviceId !== serviceId);
    this.changes.bump();
    return true;
  }

  setMaintenance(serviceId: string, enable: boolean, reason: string): boolean {
    const s = this.byId.get(serviceId);
    if (s === undefined) return false;
    const checkId = `_service_maintenance:${serviceId}`;
    this.checkList = this.checkList.filter((c) => c.checkId !== checkId);
    if (enable) {
      this.checkList.push(chk({ checkId, name: 'Service Maintenance Mode', status: 'critical', notes: reason, serviceId, serviceName: s.name, type: 'ttl' }));
    }
    this.calls.push(`maintenance ${serviceId} ${enable} ${reason}`);
    this.changes.bump();
    return true;
  }

  updateTtl(checkId: string, status: HealthStatus, note: string): boolean {
    const c = this.checkList.find((x) => x.checkId === checkId && x.type === 'ttl');
    if (c === undefined) return false;
    this.checkList = this.checkList.map((x) => (x === c ? { ...x, status, output: note } : x));
    this.calls.push(`ttl ${checkId} ${status} ${note.length}`);
    this.changes.bump();
    return true;
  }
}

/** A ConfigEntries that validates Kind and Name only. */
export class FakeConfigEntries implements ConfigEntries {
  private readonly changes = new Changes(20);
  private readonly entries = new Map<string, StoredEntry>();

  index(): number {
    return this.changes.index();
  }

  subscribe(fn: () => void): () => void {
    return this.changes.subscribe(fn);
  }

  get subscribers(): number {
    return this.changes.subscribers;
  }

  get(kind: string, name: string): StoredEntry | undefined {
    return this.entries.get(`${kind}/${name}`);
  }

  list(kind?: string): StoredEntry[] {
    return [...this.entries.values()]
      .filter((e) => kind === undefined || e.entry.Kind === kind)
      .sort((a, b) => (`${a.entry.Kind}/${a.entry.Name}` < `${b.entry.Kind}/${b.entry.Name}` ? -1 : 1));
  }

  async put(entry: unknown, opts: { cas?: number } = {}): Promise<boolean> {
    const e = entry as Record<string, unknown>;
    const problems: ValidationProblem[] = [];
    if (!(CONFIG_ENTRY_KINDS as readonly unknown[]).includes(e['Kind'])) problems.push({ source: 'request body', field: 'Kind', message: 'unknown kind' });
    if (typeof e['Name'] !== 'string' || e['Name'] === '') problems.push({ source: 'request body', field: 'Name', message: 'required' });
    if (problems.length > 0) throw new ValidationError(problems);
    const key = `${e['Kind'] as string}/${e['Name'] as string}`;
    const old = this.entries.get(key);
    if (opts.cas !== undefined && (old?.modifyIndex ?? 0) !== opts.cas) return false;
    const index = this.changes.index() + 1;
    this.entries.set(key, { entry: e as ConfigEntry, createIndex: old?.createIndex ?? index, modifyIndex: index });
    this.changes.bump();
    return true;
  }

  async delete(kind: string, name: string, opts: { cas?: number } = {}): Promise<boolean> {
    const key = `${kind}/${name}`;
    const old = this.entries.get(key);
    if (old === undefined || (opts.cas !== undefined && old.modifyIndex !== opts.cas)) return false;
    this.entries.delete(key);
    this.changes.bump();
    return true;
  }
}

/**
 * Three nodes: n1 has web-1 (passing, tags v1 and primary), its sidecar and redis (warning); n2 has
 * web-2 (critical, tag v2); n3 (an IPv6 node) has web-3 (passing, tag v1, its own IPv4 address).
 */
export function sampleNodes(): NodeCatalog[] {
  const serf = chk({ checkId: 'serfHealth', name: 'Serf Health Status', type: 'serf' });
  const web1 = svc({ id: 'web-1', name: 'web', port: 8080, tags: ['v1', 'primary'], meta: { version: '1' } });
  const sidecar = svc({
    id: 'web-1-sidecar-proxy', name: 'web-sidecar-proxy', kind: 'connect-proxy', port: 21000,
    proxy: {
      destinationServiceName: 'web', destinationServiceId: 'web-1', localServiceAddress: '127.0.0.1', localServicePort: 8080,
      upstreams: [{ destinationName: 'redis', destinationNamespace: 'default', datacenter: '', localBindAddress: '127.0.0.1', localBindPort: 9191, config: {} }],
      config: {},
    },
  });
  const redis = svc({ id: 'redis', name: 'redis', port: 6379 });
  const web2 = svc({ id: 'web-2', name: 'web', port: 8080, tags: ['v2'] });
  const web3 = svc({ id: 'web-3', name: 'web', port: 8080, tags: ['v1'], address: '10.0.0.33', weights: { passing: 5, warning: 1 } });
  const svcCheck = (s: ServiceRecord, status: HealthStatus): CheckRecord =>
    chk({ checkId: `service:${s.id}`, name: `Service '${s.name}' check`, status, serviceId: s.id, serviceName: s.name, serviceTags: s.tags, type: 'http', interval: '10s', timeout: '1s' });
  return [
    nodeCat({ node: 'n1', address: '10.0.0.1', meta: { zone: 'a' }, services: [web1, sidecar, redis], checks: [serf, svcCheck(web1, 'passing'), svcCheck(redis, 'warning')] }),
    nodeCat({ node: 'n2', address: '10.0.0.2', services: [web2], checks: [serf, svcCheck(web2, 'critical')] }),
    nodeCat({ node: 'n3', address: 'fd00::3', services: [web3], checks: [serf, svcCheck(web3, 'passing')] }),
  ];
}
