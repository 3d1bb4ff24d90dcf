/** Public surface of the HTTP API: the server, the route table and the agent contract. */
import { systemClock } from '../core/clock';
import { systemRandom } from '../core/random';
import type { AgentApi, ApiDependencies } from './agent-api';
import { assertWriteAccess } from './leaf-access';
import { agentRoutes } from './routes-agent';
import { agentServiceRoutes } from './routes-agent-services';
import { catalogRoutes } from './routes-catalog';
import { configRoutes } from './routes-config';
import { connectRoutes } from './routes-connect';
import { healthRoutes } from './routes-health';
import { metricsRoutes } from './routes-metrics';
import { operatorRoutes } from './routes-operator';
import type { Route } from './router';

export { HttpApiServer, DEFAULT_MAX_BODY_BYTES, type HttpApiServerOptions, type RequestObserver } from './server';
export { Router, type Route, type ApiRequest, type ApiReply, type Handler, type Method } from './router';
export { HttpError, HttpErrorCode, badRequest } from './errors';
export { blockingParams, blockingRead, waitForIndex, QUERY_META_HEADERS, type IndexSource } from './blocking';
export { CONFIG_ENTRY_NOT_FOUND_CODE } from './routes-config';
export type { ConnectCa } from './routes-connect';
export { UNKNOWN_ID_CODE, MAX_CHECK_OUTPUT_BYTES } from './routes-agent-services';
export type {
  AgentServiceJson, CatalogServiceJson, HealthCheckJson, NodeJson, ProxyJson, ServiceEntryJson, UpstreamJson, WeightsJson,
} from './consul-json';
export type { ProblemJson } from './errors';
export { memberJson, SerfStatus, type MemberJson } from './members-json';
export { keyringReportJson, KEYRING_PARTIAL_CODE, type KeyringReportJson } from './routes-operator';
export { NOT_SERVER_CODE } from './routes-agent';
export type { AgentApi, AgentSelf, ApiDependencies, KeyringReport, KeyringOperation, ReloadResult } from './agent-api';

/**
 * Every route of the API, in one table. The service endpoints (agent services and checks, catalog,
 * health, config) are mounted only for the stores `deps` provides.
 */
export function apiRoutes(api: AgentApi, deps: ApiDependencies = {}): Route[] {
  const timing = { clock: deps.clock ?? systemClock, random: deps.random ?? systemRandom };
  const routes = [...agentRoutes(api), ...operatorRoutes(api), ...metricsRoutes(api)];
  if (deps.local !== undefined) routes.push(...agentServiceRoutes({ api, local: deps.local, ...timing }));
  if (deps.catalog !== undefined) {
    routes.push(...catalogRoutes({ api, catalog: deps.catalog, ...timing }), ...healthRoutes({ api, catalog: deps.catalog, ...timing }));
  }
  if (deps.configEntries !== undefined) routes.push(...configRoutes({ configEntries: deps.configEntries, ...timing }));
  if (deps.connect !== undefined) routes.push(...connectRoutes({ connect: deps.connect, agentToken: deps.agentToken, ...timing }));
  const token = deps.agentToken;
  if (token === undefined) return routes;
  return routes.map((r) => (r.method === 'GET' ? r : {
    ...r,
    handler: (req) => {
      assertWriteAccess(req, token);
      return r.handler(req);
    },
  }));
}
