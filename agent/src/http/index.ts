/** Public surface of the HTTP API: the server, the route table and the agent contract. */
import type { AgentApi } from './agent-api';
import { agentRoutes } from './routes-agent';
import { metricsRoutes } from './routes-metrics';
import { operatorRoutes } from './routes-operator';
import type { Route } from './router';

export { HttpApiServer, DEFAULT_MAX_BODY_BYTES, type HttpApiServerOptions, type RequestObserver } from './server';
export { Router, type Route, type ApiRequest, type ApiReply, type Handler, type Method } from './router';
export { HttpError, HttpErrorCode, badRequest } from './errors';
export { blockingParams, waitForIndex, type IndexSource } from './blocking';
export { memberJson, SerfStatus, type MemberJson } from './members-json';
export { keyringReportJson, KEYRING_PARTIAL_CODE, type KeyringReportJson } from './routes-operator';
export { NOT_SERVER_CODE } from './routes-agent';
export type { AgentApi, AgentSelf, KeyringReport, KeyringOperation, ReloadResult } from './agent-api';

/** Every route of the API, in one table. */
export function apiRoutes(api: AgentApi): Route[] {
  return [...agentRoutes(api), ...operatorRoutes(api), ...metricsRoutes(api)];
}
