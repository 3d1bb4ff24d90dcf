/**
 * The local registry: what this agent is the authority for. Services and checks from the agent's
 * config files and from API registrations, their sidecars, the node's own health check, maintenance
 * mode, and the running health checks that keep it all current. The replication layer spreads its
 * `snapshot()`; the HTTP API reads and writes it through `LocalServices`.
 *
 * State changes in two steps: `plan` validates a complete candidate state (every file, every API
 * registration that stays) and assigns sidecar ports without touching anything; `commit` swaps it
 * in, keeping the status, output and running schedule of every check whose ID survives, as Consul's
 * reload restores check state. A plan with any problem is never committed, so a bad file leaves the
 * previous good state in force.
 *
 * Lifecycle: construct, `loadFiles(config.serviceDefinitions)` (refuse to start on problems),
 * `start()` (restores API registrations, starts checks), `loadFiles` again on every reload,
 * `stop()` on shutdown.
 */
import { createCheckRunner, truncateOutput, TtlCheck, type AliasSource, type CheckDefinition, type CheckResult, type CheckRunner } from '../checks';
import type { Clock, TimerHandle } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Random } from '../core/random';
import { CATALOG_LIMITS } from './catalog-codec';
import { parseDefinitionDocuments, parseRegistration, type DefinitionSet, type ServiceDefinition, type TopLevelCheck } from './definition';
import { listenersOf, setProblems } from './definition-set';
import { assignSidecarPorts, DEFAULT_SIDECAR_PORTS, type PortRange } from './local-ports';
import { RegistrationStore } from './local-store';
import {
  ValidationError,
  type CheckRecord,
  type HealthStatus,
  type LocalServices,
  type ServiceRecord,
  type ValidationProblem,
} from './types';

/** ID and name of the node-health check the agent sets from gossip. */
export const SERF_HEALTH_ID = 'serfHealth';

/** ID of the node maintenance check. */
export const NODE_MAINTENANCE_ID = '_node_maintenance';

/** Prefix of service maintenance check IDs: `_service_maintenance:<service-id>`. */
export const SERVICE_MAINTENANCE_PREFIX = '_service_maintenance:';

/** How often critical checks are looked at for `deregister_critical_service_after`: 30 s (Consul). */
export const REAP_INTERVAL_MS = 30_000;

/** Shortest `deregister_critical_service_after` honoured: 1 min (Consul raises shorter ones to it). */
export const MIN_DEREGISTER_AFTER_MS = 60_000;

const DEFAULT_SERVICE_MAINTENANCE_REASON = 'Maintenance mode is enabled for this service, but no reason was provided. This is a default message.';
const DEFAULT_NODE_MAINTENANCE_REASON = 'Maintenance mode is enabled for this node, but no reason was provided. This is a default message.';

/** What the registry needs. */
export interface LocalRegistryOptions {
  /** Data directory; API registrations live in `<dataDir>/services/`. */
  dataDir: string;
  /** This node's name (alias checks without `alias_node` look here). */
  nodeName: string;
  clock: Clock;
  random: Random;
  logger: Logger;
  /**
   * How alias checks read services on other nodes (`alias_node`); normally
   * `aliasSourceFromCatalog(replicatedCatalog)`. Without it such checks stay critical ("not found").
   */
  aliasLookup?: AliasSource;
  /** Ports for sidecars that name none: default 21000-21255. */
  portRange?: PortRange;
}

/** One registration over the API: its definition and the body to persist. */
interface ApiRegistration {
  definition: ServiceDefinition;
  body: unknown;
}

/** A candidate state: every service instance and check that would be in force. */
interface Plan {
  definitions: ServiceDefinition[];
  topChecks: TopLevelCheck[];
  sidecarPorts: Map<string, number>;
  problems: ValidationProblem[];
}

/** A check's live state. Maintenance and node-health checks have no definition and no runner. */
interface CheckState {
  def: CheckDefinition | undefined;
  fingerprint: string;
  record: CheckRecord;
  runner: CheckRunner | undefined;
  /** Monotonic ms when the check last turned critical; undefined while not critical. */
  criticalSince: number | undefined;
}

/** This agent's services and checks. */
export class LocalRegistry implements LocalServices {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly store: RegistrationStore;
  private readonly portRange: PortRange;
  private readonly aliasSource: AliasSource;

  private fileSet: DefinitionSet = { services: [], checks: [] };
  private readonly api = new Map<string, ApiRegistration>();
  /** Service IDs deregistered by `deregister_critical_service_after`, kept out until the next file load. */
  private readonly reaped = new Set<string>();
  private sidecarPorts = new Map<string, number>();
  private serviceMap = new Map<string, ServiceRecord>();
  private readonly checkMap = new Map<string, CheckState>();
  private readonly maintenance = new Map<string, string>();

  private readonly listeners = new Set<() => void>();
  private currentIndex = 1;
  private started = false;
  private reapTimer: TimerHandle | undefined;
  private readonly stopping = new Set<Promise<void>>();
  /** Serializes API registrations, so two requests never plan against the same state. */
  private apiQueue: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: LocalRegistryOptions) {
    this.clock = opts.clock;
    this.logger = opts.logger.child({ component: 'local-registry' });
    this.store = new RegistrationStore(opts.dataDir, this.logger);
    this.portRange = opts.portRange ?? DEFAULT_SIDECAR_PORTS;
    this.aliasSource = this.makeAliasSource();
    this.checkMap.set(SERF_HEALTH_ID, {
      def: undefined,
      fingerprint: '',
      record: freeze(nodeCheck(SERF_HEALTH_ID, 'Serf Health Status', 'serf', 'passing', 'Agent alive and reachable', '')),
      runner: undefined,
      criticalSince: undefined,
    });
  }

  // ---- lifecycle ----

  /** Restores API registrations from the data dir, then starts every check and the reaper. */
  async start(): Promise<void> {
    if (this.started) return;
    await this.restore();
    this.started = true;
    for (const s of this.checkMap.values()) s.runner?.start();
    this.scheduleReap();
  }

  /** Stops every check (killing scripts in flight) and the reaper. State stays readable. */
  async stop(): Promise<void> {
    this.started = false;
    this.clock.clearTimer(this.reapTimer);
    this.reapTimer = undefined;
    await Promise.all([...[...this.checkMap.values()].map((s) => s.runner?.stop()), ...this.stopping]);
  }

  /**
   * Validates the service and check blocks of every config file as one set and, when nothing is
   * wrong, makes it the file-defined state: added services appear, removed ones go, kept ones keep
   * their checks' state and their sidecar port. Returns every problem; on any, nothing changes.
   */
  loadFiles(definitions: readonly { source: string; raw: unknown }[]): ValidationProblem[] {
    const parsed = parseDefinitionDocuments(definitions);
    // Set rules (duplicate ids, port clashes) run over the definitions that parsed, so an operator
    // learns about every mistake in one run; definitions with field problems are already left out.
    const plan = this.plan(parsed.set, this.api, 'files', new Set());
    const problems = [...parsed.problems, ...plan.problems];
    if (problems.length > 0) return problems;
    this.fileSet = parsed.set;
    this.reaped.clear();
    this.commit(plan);
    return [];
  }

  // ---- reads ----

  index(): number {
    return this.currentIndex;
  }

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  services(): ServiceRecord[] {
    return [...this.serviceMap.values()].sort(byId);
  }

  /** One service instance by ID. */
  service(id: string): ServiceRecord | undefined {
    return this.serviceMap.get(id);
  }

  checks(): CheckRecord[] {
    return [...this.checkMap.values()].map((s) => s.record).sort((a, b) => compare(a.checkId, b.checkId));
  }

  /** One check by ID. */
  check(id: string): CheckRecord | undefined {
    return this.checkMap.get(id)?.record;
  }

  /** Everything this node is the authority for, for the replication layer. */
  snapshot(): { services: ServiceRecord[]; checks: CheckRecord[] } {
    return { services: this.services(), checks: this.checks() };
  }

  // ---- writes ----

  register(definition: unknown): Promise<ServiceRecord> {
    return this.serialApi(async () => {
      const parsed = parseRegistration(definition);
      if (parsed.definition === undefined) throw new ValidationError(parsed.problems);
      const def = parsed.definition;
      const owner = this.fileOwner(def);
      if (owner !== undefined) {
        throw new ValidationError([{ source: 'request body', field: '', message: `service ID ${JSON.stringify(owner.id)} is defined in config file ${owner.source}: change it there and reload` }]);
      }
      const next = new Map(this.api);
      next.set(def.service.id, { definition: def, body: definition });
      const plan = this.plan(this.fileSet, next, def, new Set(this.reaped));
      if (plan.problems.length > 0) throw new ValidationError(plan.problems);
      await this.store.save(def.service.id, definition, def.sidecar === undefined ? undefined : plan.sidecarPorts.get(def.sidecar.service.id));
      // Files may have been reloaded while the write was in flight: plan again before committing.
      const again = this.plan(this.fileSet, next, def, new Set(this.reaped));
      if (again.problems.length > 0 || this.fileOwner(def) !== undefined) {
        await this.store.remove(def.service.id);
        throw new ValidationError(again.problems.length > 0 ? again.problems : [{ source: 'request body', field: '', message: 'a config file reload now defines this service ID' }]);
      }
      this.api.set(def.service.id, { definition: def, body: definition });
      this.reaped.delete(def.service.id);
      this.commit(again);
      return this.serviceMap.get(def.service.id)!;
    });
  }

  deregister(serviceId: string): Promise<boolean> {
    return this.serialApi(async () => {
      const sidecarOf = [...this.api.values()].find((r) => r.definition.sidecar?.service.id === serviceId);
      if (sidecarOf !== undefined) {
        throw new ValidationError([{ source: 'request', field: 'service_id', message: `${JSON.stringify(serviceId)} is the sidecar of ${JSON.stringify(sidecarOf.definition.service.id)}: deregister that service` }]);
      }
      if (!this.api.has(serviceId)) {
        const file = this.fileSet.services.find((d) => d.service.id === serviceId || d.sidecar?.service.id === serviceId);
        if (file !== undefined && this.serviceMap.has(serviceId)) {
          throw new ValidationError([{ source: 'request', field: 'service_id', message: `${JSON.stringify(serviceId)} is defined in config file ${file.source}: remove it there and reload` }]);
        }
        return false;
      }
      await this.store.remove(serviceId);
      this.api.delete(serviceId);
      this.commit(this.plan(this.fileSet, this.api, 'none', new Set(this.reaped)));
      return true;
    });
  }

  setMaintenance(serviceId: string, enable: boolean, reason: string): boolean {
    const service = this.serviceMap.get(serviceId);
    if (service === undefined) return false;
    const id = `${SERVICE_MAINTENANCE_PREFIX}${serviceId}`;
    if (enable === this.checkMap.has(id)) return true; // already so: Consul keeps the first reason
    if (enable) {
      const notes = truncateNotes(reason === '' ? DEFAULT_SERVICE_MAINTENANCE_REASON : reason);
      this.maintenance.set(serviceId, notes);
      this.checkMap.set(id, this.maintenanceState(id, 'Service Maintenance Mode', notes, service));
    } else {
      this.maintenance.delete(serviceId);
      this.checkMap.delete(id);
    }
    this.changed();
    return true;
  }

  /** Puts the whole node into (or out of) maintenance: a critical `_node_maintenance` check. */
  setNodeMaintenance(enable: boolean, reason: string): void {
    if (enable === this.checkMap.has(NODE_MAINTENANCE_ID)) return;
    if (enable) {
      const notes = truncateNotes(reason === '' ? DEFAULT_NODE_MAINTENANCE_REASON : reason);
      this.checkMap.set(NODE_MAINTENANCE_ID, this.maintenanceState(NODE_MAINTENANCE_ID, 'Node Maintenance Mode', notes, undefined));
    } else {
      this.checkMap.delete(NODE_MAINTENANCE_ID);
    }
    this.changed();
  }

  updateTtl(checkId: string, status: HealthStatus, note: string): boolean {
    const runner = this.checkMap.get(checkId)?.runner;
    if (!(runner instanceof TtlCheck)) return false;
    runner.update(status, note);
    return true;
  }

  /** Sets the node-health check from gossip: passing while this node is alive in the pool. */
  setNodeHealth(status: HealthStatus, output: string): void {
    const state = this.checkMap.get(SERF_HEALTH_ID)!;
    this.applyResult(state, { status, output: truncateOutput(output) });
  }

  // ---- planning and committing ----

  /**
   * A complete candidate state from `files` and `api`. `candidate` says whose problems to report:
   * the files (on load), one API definition (on register and restore), or none (deregister, reaping).
   */
  private plan(files: DefinitionSet, api: ReadonlyMap<string, ApiRegistration>, candidate: 'files' | 'none' | ServiceDefinition, reaped: ReadonlySet<string>): Plan {
    // A config file defining an ID shadows an API registration of it (files win, as on a Consul reload).
    const fileIds = new Set(files.services.flatMap(idsOf));
    const apiDefs = [...api.values()].map((r) => r.definition).filter((d) => !idsOf(d).some((id) => fileIds.has(id)));
    let problems: ValidationProblem[] = [];
    if (candidate === 'files') {
      problems = setProblems(files, { services: apiDefs, checks: [] });
    } else if (candidate !== 'none') {
      const others = apiDefs.filter((d) => d.service.id !== candidate.service.id);
      problems = setProblems({ services: [candidate], checks: [] }, { services: [...files.services, ...others], checks: files.checks });
    }
    const definitions = [...files.services, ...apiDefs].filter((d) => !reaped.has(d.service.id));
    const isCandidate = (d: ServiceDefinition): boolean => (candidate === 'files' ? files.services.includes(d) : d === candidate);
    const { sidecarPorts, portProblems } = this.assignPorts(definitions, isCandidate);
    problems.push(...portProblems);
    const liveIds = new Set(definitions.flatMap(idsOf));
    const topChecks = files.checks.filter((c) => c.check.serviceId === '' || liveIds.has(c.check.serviceId));
    const checkCount = topChecks.length + definitions.reduce((n, d) => n + d.checks.length + (d.sidecar?.checks.length ?? 0), 0);
    if (liveIds.size > CATALOG_LIMITS.maxServices || checkCount > CATALOG_LIMITS.maxChecks) {
      problems.push({
        source: candidate === 'files' ? 'config files' : 'request body',
        field: '',
        message: `a node carries at most ${CATALOG_LIMITS.maxServices} services and ${CATALOG_LIMITS.maxChecks} checks; this would make ${liveIds.size} and ${checkCount}`,
      });
    }
    return { definitions, topChecks, sidecarPorts, problems };
  }

  /**
   * Sidecar ports for `definitions`. A port a sidecar already holds is binding: a candidate that now
   * asks for it explicitly (an upstream or a sidecar port) is refused rather than moving a sidecar
   * that is in use. Outside candidates (deregister, restore) a displaced sidecar is simply moved.
   */
  private assignPorts(definitions: readonly ServiceDefinition[], isCandidate: (d: ServiceDefinition) => boolean): { sidecarPorts: Map<string, number>; portProblems: ValidationProblem[] } {
    const held = new Map<number, string>();
    for (const d of definitions) {
      const prev = d.sidecar?.autoPort === true ? this.sidecarPorts.get(d.sidecar.service.id) : undefined;
      if (prev !== undefined) held.set(prev, d.sidecar!.service.id);
    }
    const portProblems: ValidationProblem[] = [];
    const taken: number[] = [];
    const auto: string[] = [];
    for (const d of definitions) {
      for (const l of listenersOf(d)) {
        const holder = held.get(l.port);
        if (holder !== undefined && isCandidate(d)) {
          portProblems.push({ source: l.at.source, field: l.at.field, message: `port ${l.port} is held by sidecar ${JSON.stringify(holder)} (assigned automatically): choose another port` });
        }
        taken.push(l.port);
      }
      if (d.sidecar?.autoPort === true) auto.push(d.sidecar.service.id);
    }
    const { ports, unassigned } = assignSidecarPorts(auto, taken, this.sidecarPorts, this.portRange);
    for (const id of unassigned) {
      const d = definitions.find((x) => x.sidecar?.service.id === id)!;
      portProblems.push({ source: d.source, field: d.sidecar!.field, message: `no free sidecar port left in ${this.portRange.min}-${this.portRange.max}: set port explicitly` });
    }
    return { sidecarPorts: ports, portProblems };
  }

  /** Makes `plan` the current state; checks that survive keep their state and schedule. */
  private commit(plan: Plan): void {
    const services = new Map<string, ServiceRecord>();
    const wanted = new Map<string, { def: CheckDefinition; service: ServiceRecord | undefined }>();
    for (const d of plan.definitions) {
      services.set(d.service.id, freeze(d.service));
      for (const c of d.checks) wanted.set(c.id, { def: c, service: d.service });
      if (d.sidecar !== undefined) {
        const port = d.sidecar.autoPort ? plan.sidecarPorts.get(d.sidecar.service.id) : d.sidecar.service.port;
        if (port === undefined) continue; // only in a plan with problems, which is never committed
        const sidecar = freeze({ ...d.sidecar.service, port });
        services.set(sidecar.id, sidecar);
        for (const c of d.sidecar.checks) wanted.set(c.id, { def: c, service: sidecar });
      }
    }
    for (const t of plan.topChecks) wanted.set(t.check.id, { def: t.check, service: services.get(t.check.serviceId) });

    let changed = !sameRecords(this.serviceMap, services);
    this.serviceMap = services;
    this.sidecarPorts = plan.sidecarPorts;
    for (const [id, state] of [...this.checkMap]) {
      if (state.def === undefined) continue;
      if (!wanted.has(id)) {
        this.retire(state);
        this.checkMap.delete(id);
        changed = true;
      }
    }
    for (const [id, { def, service }] of wanted) changed = this.upsertCheck(id, def, service) || changed;
    changed = this.pruneMaintenance() || changed;
    if (changed) this.changed();
  }

  /** Adds or updates one check; true when anything visible changed. */
  private upsertCheck(id: string, def: CheckDefinition, service: ServiceRecord | undefined): boolean {
    const fingerprint = JSON.stringify(def);
    const prev = this.checkMap.get(id);
    if (prev?.def !== undefined && prev.fingerprint === fingerprint) {
      const record = freeze({ ...prev.record, serviceName: service?.name ?? '', serviceTags: service?.tags ?? [] });
      if (JSON.stringify(record) === JSON.stringify(prev.record)) return false;
      prev.record = record;
      return true;
    }
    if (prev !== undefined) this.retire(prev);
    // A surviving ID keeps its status and output (Consul restores check state across a reload).
    const status = prev?.record.status ?? def.initialStatus;
    const state: CheckState = {
      def,
      fingerprint,
      record: freeze(checkRecord(def, service, status, prev?.record.output ?? '')),
      runner: undefined,
      criticalSince: status === 'critical' ? (prev?.criticalSince ?? this.clock.now()) : undefined,
    };
    const runner = createCheckRunner(def, { clock: this.clock, random: this.opts.random, nodeName: this.opts.nodeName, aliasSource: this.aliasSource }, (r) => {
      if (state.runner === runner && this.checkMap.get(id) === state) this.applyResult(state, r);
    });
    state.runner = runner;
    this.checkMap.set(id, state);
    if (this.started) runner.start();
    return true;
  }

  /** Stops a check's runner in the background; `stop()` waits for it. */
  private retire(state: CheckState): void {
    const runner = state.runner;
    state.runner = undefined;
    if (runner === undefined) return;
    const done = runner.stop().catch((err: unknown) => this.logger.warn({ err: String(err) }, 'check did not stop cleanly'));
    this.stopping.add(done);
    void done.finally(() => this.stopping.delete(done));
  }

  /** Drops maintenance checks of services that are gone; true when any was dropped. */
  private pruneMaintenance(): boolean {
    let changed = false;
    for (const serviceId of [...this.maintenance.keys()]) {
      if (this.serviceMap.has(serviceId)) continue;
      this.maintenance.delete(serviceId);
      this.checkMap.delete(`${SERVICE_MAINTENANCE_PREFIX}${serviceId}`);
      changed = true;
    }
    return changed;
  }

  private applyResult(state: CheckState, result: CheckResult): void {
    const { status, output } = result;
    if (state.record.status === status && state.record.output === output) return;
    if (status === 'critical' && state.record.status !== 'critical') state.criticalSince = this.clock.now();
    if (status !== 'critical') state.criticalSince = undefined;
    state.record = freeze({ ...state.record, status, output });
    this.changed();
  }

  private changed(): void {
    this.currentIndex++;
    for (const fn of [...this.listeners]) {
      try {
        fn();
      } catch (err) {
        this.logger.error({ err: String(err) }, 'local registry listener failed');
      }
    }
  }

  // ---- API registrations on disk ----

  /** Re-registers what the API registered before the restart; bad entries are logged and skipped. */
  private async restore(): Promise<void> {
    for (const stored of await this.store.loadAll()) {
      const parsed = parseRegistration(stored.definition, stored.file);
      const def = parsed.definition;
      const why = def === undefined
        ? parsed.problems.map((p) => `${p.field}: ${p.message}`).join('; ')
        : def.service.id !== stored.id ? `its service ID ${JSON.stringify(def.service.id)} does not match the file name` : undefined;
      if (def === undefined || why !== undefined) {
        this.logger.warn({ file: stored.file, problems: why }, 'skipping invalid stored service registration');
        continue;
      }
      if (def.sidecar !== undefined && stored.sidecarPort !== undefined && !this.sidecarPorts.has(def.sidecar.service.id)) {
        this.sidecarPorts.set(def.sidecar.service.id, stored.sidecarPort);
      }
      const next = new Map(this.api);
      next.set(def.service.id, { definition: def, body: stored.definition });
      const plan = this.plan(this.fileSet, next, def, this.reaped);
      if (plan.problems.length > 0) {
        this.logger.warn({ file: stored.file, problems: plan.problems.map((p) => `${p.field}: ${p.message}`) }, 'skipping stored service registration that conflicts with the current services');
        continue;
      }
      this.api.set(def.service.id, { definition: def, body: stored.definition });
      this.commit(plan);
    }
  }

  /** The config file definition that claims an ID of `def`, if any. */
  private fileOwner(def: ServiceDefinition): { id: string; source: string } | undefined {
    const ids = new Set(idsOf(def));
    for (const d of this.fileSet.services) {
      const id = idsOf(d).find((x) => ids.has(x));
      if (id !== undefined) return { id, source: d.source };
    }
    return undefined;
  }

  private serialApi<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.apiQueue.then(fn, fn);
    this.apiQueue = run.catch(() => undefined);
    return run;
  }

  // ---- deregister_critical_service_after ----

  private scheduleReap(): void {
    this.reapTimer = this.clock.setTimer(REAP_INTERVAL_MS, () => {
      this.reapTimer = undefined;
      if (!this.started) return;
      this.reap();
      this.scheduleReap();
    });
  }

  /** Deregisters every service (with its sidecar) that has a check critical for longer than allowed. */
  private reap(): void {
    const now = this.clock.now();
    const doomed = new Set<string>();
    for (const s of this.checkMap.values()) {
      const after = s.def?.deregisterCriticalServiceAfterMs ?? 0;
      if (after <= 0 || s.criticalSince === undefined || s.def!.serviceId === '') continue;
      if (now - s.criticalSince < Math.max(after, MIN_DEREGISTER_AFTER_MS)) continue;
      const owner = this.ownerOf(s.def!.serviceId);
      if (owner !== undefined) doomed.add(owner.service.id);
    }
    for (const id of doomed) {
      this.logger.warn({ serviceId: id }, 'deregistering service: a check stayed critical past deregister_critical_service_after');
      if (this.api.has(id)) {
        this.api.delete(id);
        this.store.remove(id).catch((err: unknown) => this.logger.error({ serviceId: id, err: String(err) }, 'cannot remove stored service registration'));
      } else {
        this.reaped.add(id);
      }
    }
    if (doomed.size > 0) this.commit(this.plan(this.fileSet, this.api, 'none', this.reaped));
  }

  /** The definition a service ID (parent or sidecar) belongs to among those in force. */
  private ownerOf(serviceId: string): ServiceDefinition | undefined {
    const all = [...this.fileSet.services, ...[...this.api.values()].map((r) => r.definition)];
    return all.find((d) => this.serviceMap.has(d.service.id) && idsOf(d).includes(serviceId));
  }

  // ---- alias checks ----

  /** Local targets come from this registry; other nodes from the injected lookup. */
  private makeAliasSource(): AliasSource {
    const remote = this.opts.aliasLookup;
    return {
      checksFor: (node, service) => {
        if (node !== this.opts.nodeName) return remote?.checksFor(node, service);
        const byId = this.serviceMap.get(service);
        const ids = byId !== undefined ? [byId.id] : [...this.serviceMap.values()].filter((s) => s.name === service).map((s) => s.id);
        if (ids.length === 0) return undefined;
        const wanted = new Set(['', ...ids]);
        return [...this.checkMap.values()].map((s) => s.record).filter((c) => wanted.has(c.serviceId));
      },
      subscribe: (fn) => {
        const local = this.subscribe(fn);
        const other = remote?.subscribe(fn);
        return () => {
          local();
          other?.();
        };
      },
    };
  }

  private maintenanceState(id: string, name: string, notes: string, service: ServiceRecord | undefined): CheckState {
    const record = nodeCheck(id, name, 'maintenance', 'critical', '', notes);
    return {
      def: undefined,
      fingerprint: '',
      record: freeze({ ...record, serviceId: service?.id ?? '', serviceName: service?.name ?? '', serviceTags: service?.tags ?? [] }),
      runner: undefined,
      criticalSince: this.clock.now(),
    };
  }
}

/** IDs a definition claims: the service and its sidecar. */
function idsOf(d: ServiceDefinition): string[] {
  return d.sidecar === undefined ? [d.service.id] : [d.service.id, d.sidecar.service.id];
}

function checkRecord(def: CheckDefinition, service: ServiceRecord | undefined, status: HealthStatus, output: string): CheckRecord {
  return {
    checkId: def.id,
    name: def.name,
    status,
    notes: def.notes,
    output,
    serviceId: def.serviceId,
    serviceName: service?.name ?? '',
    serviceTags: service?.tags ?? [],
    type: def.spec.type,
    interval: def.intervalText,
    timeout: def.timeoutText,
  };
}

function nodeCheck(id: string, name: string, type: CheckRecord['type'], status: HealthStatus, output: string, notes: string): CheckRecord {
  return { checkId: id, name, status, notes, output, serviceId: '', serviceName: '', serviceTags: [], type, interval: '', timeout: '' };
}

function truncateNotes(s: string): string {
  return s.length > CATALOG_LIMITS.maxOutputChars ? s.slice(0, CATALOG_LIMITS.maxOutputChars) : s;
}

function sameRecords(a: ReadonlyMap<string, ServiceRecord>, b: ReadonlyMap<string, ServiceRecord>): boolean {
  if (a.size !== b.size) return false;
  for (const [id, r] of b) {
    const prev = a.get(id);
    if (prev === undefined || JSON.stringify(prev) !== JSON.stringify(r)) return false;
  }
  return true;
}

function byId(a: ServiceRecord, b: ServiceRecord): number {
  return compare(a.id, b.id);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Records are shared with readers (snapshots, the API): never mutated once published. */
function freeze<T extends object>(v: T): T {
  return Object.freeze(v);
}
