/**
 * `/v1/config`: config entries, as Consul serves them. Writes answer `true` or `false` (a failed
 * check-and-set is `false`, not an error); reads are blocking queries on the store's index and a
 * missing entry is a 404 that still carries `X-Consul-Index`; a delete without `?cas` answers `{}`
 * and with it a boolean, as Consul does for backward compatibility.
 */
import type { ConfigEntries, StoredEntry } from '../config-entries/types';
import { CONFIG_ENTRY_KINDS } from '../config-entries/types';
import type { Clock } from '../core/clock';
import type { Random } from '../core/random';
import { blockingRead } from './blocking';
import { badRequest } from './errors';
import type { ApiRequest, Route } from './router';

/** Code of a 404 for a config entry that does not exist. */
export const CONFIG_ENTRY_NOT_FOUND_CODE = 'SHOAL_ERR_CONFIG_ENTRY_NOT_FOUND';

/** What the config routes need. */
export interface ConfigRouteDeps {
  configEntries: ConfigEntries;
  clock: Clock;
  random: Random;
}

const KINDS: ReadonlySet<string> = new Set(CONFIG_ENTRY_KINDS);

/** The config entry endpoints. */
export function configRoutes(deps: ConfigRouteDeps): Route[] {
  const store = deps.configEntries;
  return [
    {
      method: 'PUT',
      path: '/v1/config',
      handler: async (req) => {
        const cas = casParam(req);
        const body = await req.json();
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw badRequest('request body: expected a config entry, a JSON object with Kind and Name');
        }
        return { body: await store.put(body, cas === undefined ? {} : { cas }) };
      },
    },
    {
      method: 'GET',
      path: '/v1/config/:kind',
      handler: (req) => {
        const kind = kindParam(req);
        return blockingRead(req, store, deps, () => ({ body: store.list(kind).map(entryJson) }));
      },
    },
    {
      method: 'GET',
      path: '/v1/config/:kind/:name',
      handler: (req) => {
        const kind = kindParam(req);
        const name = req.params['name']!;
        return blockingRead(req, store, deps, () => {
          const stored = store.get(kind, name);
          if (stored !== undefined) return { body: entryJson(stored) };
          return { status: 404, body: { error: `config entry not found for ${JSON.stringify(kind)} / ${JSON.stringify(name)}`, code: CONFIG_ENTRY_NOT_FOUND_CODE } };
        });
      },
    },
    {
      method: 'DELETE',
      path: '/v1/config/:kind/:name',
      handler: async (req) => {
        const kind = kindParam(req);
        const cas = casParam(req);
        const deleted = await store.delete(kind, req.params['name']!, cas === undefined ? {} : { cas });
        return { body: cas === undefined ? {} : deleted };
      },
    },
  ];
}

/** An entry with its indexes, as Consul returns it. */
function entryJson(s: StoredEntry): Record<string, unknown> {
  return { ...s.entry, CreateIndex: s.createIndex, ModifyIndex: s.modifyIndex };
}

function kindParam(req: ApiRequest): string {
  const kind = req.params['kind']!;
  if (!KINDS.has(kind)) throw badRequest(`invalid config entry kind ${JSON.stringify(kind)}; expected one of ${CONFIG_ENTRY_KINDS.join(', ')}`);
  return kind;
}

/** `?cas=N`: the ModifyIndex the entry must have (0: must not exist). */
function casParam(req: ApiRequest): number | undefined {
  const raw = req.query.get('cas');
  if (raw === null) return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw badRequest(`cas: expected a non-negative integer (a ModifyIndex), got ${JSON.stringify(raw)}`);
  return Number(raw);
}
