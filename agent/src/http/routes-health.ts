/**
 * `/v1/health/*`: service instances with their checks, and checks by service, node and state, in
 * Consul's shapes; all blocking queries on the catalog's index. `?passing` keeps only instances whose
 * every check (node checks included) passes: a warning fails it, as in Consul.
 *
 * `CheckRecord` does not name its node, so the check listings walk `catalog.nodes()` and pair each
 * check with the node that holds it.
 */
import type { CheckRecord, HealthStatus, NodeCatalog } from '../catalog/types';
import { blockingRead } from './blocking';
import { byString, healthCheckJson, serviceEntryJson } from './consul-json';
import { badRequest } from './errors';
import { selectInstances, type CatalogRouteDeps } from './routes-catalog';
import type { ApiRequest, Route } from './router';

const STATES: ReadonlySet<string> = new Set<HealthStatus | 'any'>(['any', 'passing', 'warning', 'critical']);

/** The health endpoints. */
export function healthRoutes(deps: CatalogRouteDeps): Route[] {
  const { catalog } = deps;
  const checksWhere = (req: ApiRequest, keep: (c: CheckRecord, n: NodeCatalog) => boolean) =>
    blockingRead(req, catalog, deps, (index) => ({
      body: checksOf(catalog.nodes(), keep).map(([c, n]) => healthCheckJson(c, n.node, index)),
    }));
  return [
    {
      method: 'GET',
      path: '/v1/health/service/:name',
      handler: (req) => blockingRead(req, catalog, deps, (index) => ({
        body: selectInstances(catalog, req, { connect: false, passing: req.flag('passing') }).map((i) => serviceEntryJson(i, index)),
      })),
    },
    {
      method: 'GET',
      path: '/v1/health/connect/:name',
      handler: (req) => blockingRead(req, catalog, deps, (index) => ({
        body: selectInstances(catalog, req, { connect: true, passing: req.flag('passing') }).map((i) => serviceEntryJson(i, index)),
      })),
    },
    {
      method: 'GET',
      path: '/v1/health/checks/:service',
      handler: (req) => checksWhere(req, (c) => c.serviceName === req.params['service']),
    },
    {
      method: 'GET',
      path: '/v1/health/node/:node',
      handler: (req) => checksWhere(req, (_c, n) => n.node === req.params['node']),
    },
    {
      method: 'GET',
      path: '/v1/health/state/:state',
      handler: (req) => {
        const state = req.params['state']!;
        if (!STATES.has(state)) throw badRequest(`state: expected any, passing, warning or critical, got ${JSON.stringify(state)}`);
        return checksWhere(req, (c) => state === 'any' || c.status === state);
      },
    },
  ];
}

/** Checks that `keep` accepts, with their nodes, sorted by node then check ID. */
function checksOf(nodes: readonly NodeCatalog[], keep: (c: CheckRecord, n: NodeCatalog) => boolean): Array<[CheckRecord, NodeCatalog]> {
  const out: Array<[CheckRecord, NodeCatalog]> = [];
  for (const n of nodes) for (const c of n.checks) if (keep(c, n)) out.push([c, n]);
  return out.sort(([ca, na], [cb, nb]) => byString(na.node, nb.node) || byString(ca.checkId, cb.checkId));
}
