/**
 * `/v1/catalog/*`: the replicated catalog in Consul's shapes. Every read is a blocking query on the
 * catalog's index. Unknown services list as `[]` and an unknown node as `null`, with status 200, as
 * Consul answers; both carry `X-Consul-Index` so a watch on something not yet registered works.
 */
import type { CatalogReader, ServiceInstance } from '../catalog/types';
import type { Clock } from '../core/clock';
import type { Random } from '../core/random';
import type { AgentApi } from './agent-api';
import { blockingRead } from './blocking';
import { agentServiceJson, byString, catalogServiceJson, nodeJson } from './consul-json';
import type { ApiRequest, Route } from './router';

/** What the catalog and health routes need. */
export interface CatalogRouteDeps {
  api: AgentApi;
  catalog: CatalogReader;
  clock: Clock;
  random: Random;
}

/** The catalog endpoints. */
export function catalogRoutes(deps: CatalogRouteDeps): Route[] {
  const { catalog } = deps;
  const read = (req: ApiRequest, build: (index: number) => { status?: number; body: unknown }) => blockingRead(req, catalog, deps, build);
  return [
    {
      method: 'GET',
      path: '/v1/catalog/datacenters',
      handler: () => ({ body: datacenters(deps) }),
    },
    {
      method: 'GET',
      path: '/v1/catalog/services',
      handler: (req) => read(req, () => {
        const services = [...catalog.services()].sort(([a], [b]) => byString(a, b));
        return { body: Object.fromEntries(services.map(([name, tags]) => [name, [...new Set(tags)].sort(byString)])) };
      }),
    },
    {
      method: 'GET',
      path: '/v1/catalog/nodes',
      handler: (req) => read(req, (index) => ({
        body: [...catalog.nodes()].sort((a, b) => byString(a.node, b.node)).map((n) => nodeJson(n, index)),
      })),
    },
    {
      method: 'GET',
      path: '/v1/catalog/node/:node',
      handler: (req) => read(req, (index) => {
        const n = catalog.node(req.params['node']!);
        if (n === undefined) return { body: null };
        const services = [...n.services].sort((a, b) => byString(a.id, b.id));
        return { body: { Node: nodeJson(n, index), Services: Object.fromEntries(services.map((s) => [s.id, agentServiceJson(s, { index })])) } };
      }),
    },
    {
      method: 'GET',
      path: '/v1/catalog/service/:name',
      handler: (req) => read(req, (index) => ({
        body: selectInstances(catalog, req, { connect: false, passing: false }).map((i) => catalogServiceJson(i, index)),
      })),
    },
    {
      method: 'GET',
      path: '/v1/catalog/connect/:name',
      handler: (req) => read(req, (index) => ({
        body: selectInstances(catalog, req, { connect: true, passing: false }).map((i) => catalogServiceJson(i, index)),
      })),
    },
  ];
}

/**
 * Instances of `:name` that carry every `?tag=` given (Consul ANDs repeated tags), optionally only
 * those whose checks all pass, sorted by node then service ID. The filters are applied here as well
 * as asked of the reader, so the reply honours them whatever the reader's own filtering does.
 */
export function selectInstances(catalog: CatalogReader, req: ApiRequest, opts: { connect: boolean; passing: boolean }): ServiceInstance[] {
  const tags = req.query.getAll('tag').filter((t) => t !== '');
  const found = catalog.instances(req.params['name']!, {
    ...(tags[0] !== undefined ? { tag: tags[0] } : {}),
    ...(opts.passing ? { passingOnly: true } : {}),
    ...(opts.connect ? { connect: true } : {}),
  });
  return found
    .filter((i) => tags.every((t) => i.service.tags.includes(t)))
    .filter((i) => !opts.passing || i.checks.every((c) => c.status === 'passing'))
    .sort((a, b) => byString(a.node.node, b.node.node) || byString(a.service.id, b.service.id));
}

/** This datacenter first, then every other one known from the catalog and the WAN pool, by name. */
function datacenters(deps: CatalogRouteDeps): string[] {
  const local = deps.api.self().config.Datacenter;
  const others = new Set<string>();
  for (const n of deps.catalog.nodes()) if (n.datacenter !== '') others.add(n.datacenter);
  for (const m of deps.api.wanMembers() ?? []) {
    const dc = m.tags['dc'];
    if (dc !== undefined && dc !== '') others.add(dc);
  }
  others.delete(local);
  return [local, ...[...others].sort(byString)];
}
