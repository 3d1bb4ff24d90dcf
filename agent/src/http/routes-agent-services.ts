/**
 * `/v1/agent/services`, `/v1/agent/service/*`, `/v1/agent/checks`, `/v1/agent/check/*`: this agent's
 * own services and checks, as Consul's agent endpoints serve them.
 *
 * - Registration bodies are Consul's (`Name`, `ID`, `Port`, `Check`, `Connect.SidecarService`, or
 *   snake_case); the local registry validates them and a refusal is a 400 listing every problem
 *   (`problems` in the body). Bodies are capped by the server (1 MiB by default: 413 beyond).
 * - `?replace-existing-checks` is accepted for compatibility: a registration always carries its
 *   complete set of checks in Shoal, so re-registering already replaces the old ones.
 * - Unknown IDs are 404s. Reads carry `X-Consul-Index` from the local registry and accept
 *   `?index=&wait=` like the catalog (Consul itself blocks only `/v1/agent/service/:id`, by hash).
 */
import type { HealthStatus, LocalServices } from '../catalog/types';
import type { Clock } from '../core/clock';
import type { Random } from '../core/random';
import type { AgentApi } from './agent-api';
import { blockingRead } from './blocking';
import { agentServiceJson, healthCheckJson } from './consul-json';
import { badRequest, HttpError } from './errors';
import type { ApiRequest, Route } from './router';

/** Code of a 404 for an unknown service or check ID. */
export const UNKNOWN_ID_CODE = 'SHOAL_ERR_UNKNOWN_ID';

/** Check output kept from an update or a TTL note: 4 KiB, Consul's default `check_output_max_size`. */
export const MAX_CHECK_OUTPUT_BYTES = 4096;

/** What the agent service routes need. */
export interface AgentServiceRouteDeps {
  api: AgentApi;
  local: LocalServices;
  clock: Clock;
  random: Random;
}

const TTL_UPDATES: ReadonlyArray<[string, HealthStatus]> = [['pass', 'passing'], ['warn', 'warning'], ['fail', 'critical']];

/** The agent's service and check endpoints. */
export function agentServiceRoutes(deps: AgentServiceRouteDeps): Route[] {
  const { local, api } = deps;
  return [
    {
      method: 'GET',
      path: '/v1/agent/services',
      handler: (req) => blockingRead(req, local, deps, () => {
        const datacenter = api.self().config.Datacenter;
        return { body: Object.fromEntries(local.services().map((s) => [s.id, agentServiceJson(s, { datacenter })])) };
      }),
    },
    {
      method: 'GET',
      path: '/v1/agent/service/:id',
      handler: (req) => blockingRead(req, local, deps, () => {
        const id = req.params['id']!;
        const s = local.services().find((x) => x.id === id);
        if (s === undefined) return { status: 404, body: unknownService(id) };
        return { body: agentServiceJson(s, { datacenter: api.self().config.Datacenter }) };
      }),
    },
    {
      method: 'GET',
      path: '/v1/agent/checks',
      handler: (req) => blockingRead(req, local, deps, (index) => {
        const node = api.self().config.NodeName;
        return { body: Object.fromEntries(local.checks().map((c) => [c.checkId, healthCheckJson(c, node, index)])) };
      }),
    },
    {
      method: 'PUT',
      path: '/v1/agent/service/register',
      handler: async (req) => {
        // Validated only for its form: the flag changes nothing (see the file comment).
        flagParam(req, 'replace-existing-checks');
        const body = await req.json();
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw badRequest('request body: expected a service definition, a JSON object with at least Name');
        }
        await local.register(body);
        return {};
      },
    },
    {
      method: 'PUT',
      path: '/v1/agent/service/deregister/:id',
      handler: async (req) => {
        const id = req.params['id']!;
        if (!(await local.deregister(id))) throw notFound(unknownService(id));
        return {};
      },
    },
    {
      method: 'PUT',
      path: '/v1/agent/service/maintenance/:id',
      handler: (req) => {
        const id = req.params['id']!;
        const enable = flagParam(req, 'enable');
        if (enable === undefined) throw badRequest('enable: missing; expected ?enable=true or ?enable=false');
        if (!local.setMaintenance(id, enable, req.query.get('reason') ?? '')) throw notFound(unknownService(id));
        return {};
      },
    },
    ...TTL_UPDATES.map(([verb, status]): Route => ({
      method: 'PUT',
      path: `/v1/agent/check/${verb}/:id`,
      handler: (req) => updateCheck(local, req.params['id']!, status, req.query.get('note') ?? ''),
    })),
    {
      method: 'PUT',
      path: '/v1/agent/check/update/:id',
      handler: async (req) => {
        const body = await req.json();
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw badRequest('request body: expected {"Status": "passing|warning|critical", "Output": "..."}');
        }
        const { Status: status, Output: output } = body as { Status?: unknown; Output?: unknown };
        if (status !== 'passing' && status !== 'warning' && status !== 'critical') {
          throw badRequest(`Status: expected "passing", "warning" or "critical", got ${JSON.stringify(status ?? null)}`);
        }
        if (output !== undefined && typeof output !== 'string') throw badRequest('Output: expected a string');
        return updateCheck(local, req.params['id']!, status, output ?? '');
      },
    },
  ];
}

function updateCheck(local: LocalServices, id: string, status: HealthStatus, output: string): Record<string, never> {
  if (!local.updateTtl(id, status, truncateUtf8(output, MAX_CHECK_OUTPUT_BYTES))) {
    throw notFound({ error: `unknown TTL check ID ${JSON.stringify(id)}`, code: UNKNOWN_ID_CODE });
  }
  return {};
}

/** A boolean query parameter: undefined when absent, true for a bare `?name`, or 400 when not a boolean. */
function flagParam(req: ApiRequest, name: string): boolean | undefined {
  const raw = req.query.get(name);
  if (raw === null) return undefined;
  const v = raw.toLowerCase();
  if (v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw badRequest(`${name}: expected true or false, got ${JSON.stringify(raw)}`);
}

function unknownService(id: string): { error: string; code: string } {
  return { error: `unknown service ID ${JSON.stringify(id)}`, code: UNKNOWN_ID_CODE };
}

function notFound(e: { error: string; code: string }): HttpError {
  return new HttpError(404, e.error, e.code);
}

/** At most `max` bytes of UTF-8, never cutting a character in two. */
export function truncateUtf8(text: string, max: number): string {
  const buf = Buffer.from(text, 'utf8');
  if (buf.length <= max) return text;
  let end = max;
  // Back up over continuation bytes (10xxxxxx) to the start of the cut character.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString('utf8');
}
