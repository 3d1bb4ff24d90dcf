/**
 * Alias checks (`alias_service`, optionally `alias_node`): the check mirrors the health of another
 * service instance, judged by that instance's checks plus its node's checks, as Consul's alias
 * check does. A service on this node is read from the local registry; one on another node through
 * an `AliasSource` the agent injects (normally the replicated catalog, via `aliasSourceFromCatalog`).
 * Evaluation is event-driven: the source's change notifications trigger it, coalesced per tick.
 */
import type { CatalogReader, CheckRecord } from '../catalog/types';
import type { AliasCheckSpec, CheckResult, CheckRunner, ReportFn } from './types';

/** Where alias checks read the health of the instance they mirror. */
export interface AliasSource {
  /**
   * The checks deciding the target's health (its node's checks and the instance's own), or
   * undefined when no such service is on that node. `service` is a service ID; a service name also
   * matches (every instance of it on that node).
   */
  checksFor(node: string, service: string): readonly CheckRecord[] | undefined;
  /** Calls `fn` after any change that may alter an answer of `checksFor`; returns the unsubscriber. */
  subscribe(fn: () => void): () => void;
}

/** The status and output an alias check reports for the target's checks (Consul's rules). */
export function aliasResult(spec: AliasCheckSpec, nodeName: string, checks: readonly CheckRecord[] | undefined): CheckResult {
  if (checks === undefined) {
    return { status: 'critical', output: `Service ${spec.service} could not be found on node ${spec.node === '' ? nodeName : spec.node}` };
  }
  let result: CheckResult = { status: 'passing', output: checks.length === 0 ? 'No checks found.' : 'All checks passing.' };
  for (const c of checks) {
    if (c.status === 'passing') continue;
    if (c.status === 'warning' && result.status === 'warning') continue; // the first warning names the cause
    result = { status: c.status, output: `Aliased check ${JSON.stringify(c.name)} failing: ${c.output}` };
    if (c.status === 'critical') break;
  }
  return result;
}

/** An alias check bound to its source. */
export class AliasCheck implements CheckRunner {
  private unsubscribe: (() => void) | undefined;
  private pending = false;

  constructor(
    private readonly checkId: string,
    private readonly spec: AliasCheckSpec,
    private readonly nodeName: string,
    private readonly source: AliasSource,
    private readonly report: ReportFn,
  ) {}

  start(): void {
    if (this.unsubscribe !== undefined) return;
    this.unsubscribe = this.source.subscribe(() => this.schedule());
    this.schedule();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Coalesces a burst of changes into one evaluation, after the change that caused it completed. */
  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      if (this.unsubscribe === undefined) return;
      const node = this.spec.node === '' ? this.nodeName : this.spec.node;
      // An alias check never judges by itself (a node-level alias would otherwise see its own status).
      const checks = this.source.checksFor(node, this.spec.service)?.filter((c) => c.checkId !== this.checkId);
      this.report(aliasResult(this.spec, this.nodeName, checks));
    });
  }
}

/** Reads remote instances from the replicated catalog, for alias checks with `alias_node`. */
export function aliasSourceFromCatalog(catalog: CatalogReader): AliasSource {
  return {
    checksFor(node, service) {
      const n = catalog.node(node);
      if (n === undefined) return undefined;
      const byId = n.services.filter((s) => s.id === service);
      const matched = byId.length > 0 ? byId : n.services.filter((s) => s.name === service);
      if (matched.length === 0) return undefined;
      const ids = new Set(matched.map((s) => s.id));
      return n.checks.filter((c) => c.serviceId === '' || ids.has(c.serviceId));
    },
    subscribe: (fn) => catalog.subscribe(fn),
  };
}
