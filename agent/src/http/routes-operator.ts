/**
 * `/v1/operator/keyring`: list (GET), install (POST), use (PUT), remove (DELETE), with Consul's
 * request body `{"Key": "<base64>"}` and reply shape.
 */
import type { AgentApi, KeyringOperation, KeyringReport } from './agent-api';
import { badRequest, HttpError } from './errors';
import type { ApiRequest, Method, Route } from './router';

/** Code for a keyring operation that some members did not apply. */
export const KEYRING_PARTIAL_CODE = 'SHOAL_ERR_KEYRING_PARTIAL';

/** One pool's report in Consul's JSON shape. */
export interface KeyringReportJson {
  WAN: boolean;
  Datacenter: string;
  Segment: string;
  Keys: Record<string, number>;
  PrimaryKeys: Record<string, number>;
  NumNodes: number;
  NumResponses: number;
  NumErrors: number;
  Messages: Record<string, string>;
}

/** Converts a report to Consul's shape. */
export function keyringReportJson(r: KeyringReport): KeyringReportJson {
  return {
    WAN: r.wan,
    Datacenter: r.datacenter,
    Segment: '',
    Keys: r.keys,
    PrimaryKeys: r.primaryKeys,
    NumNodes: r.numNodes,
    NumResponses: r.numResponses,
    NumErrors: r.numErrors,
    Messages: r.messages,
  };
}

const OPERATIONS: ReadonlyArray<[Method, KeyringOperation]> = [
  ['POST', 'install'],
  ['PUT', 'use'],
  ['DELETE', 'remove'],
];

/** The keyring endpoints. */
export function operatorRoutes(api: AgentApi): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/operator/keyring',
      handler: async () => ({ body: (await api.keyringList()).map(keyringReportJson) }),
    },
    ...OPERATIONS.map(([method, op]): Route => ({
      method,
      path: '/v1/operator/keyring',
      handler: async (req) => {
        const reports = await api.keyringOperation(op, await keyFromBody(req));
        const failed = reports.filter((r) => r.numErrors > 0);
        if (failed.length > 0) {
          const detail = failed
            .map((r) => `${r.wan ? 'WAN' : `${r.datacenter} (LAN)`}: ${r.numErrors}/${r.numNodes} members failed (${describeMessages(r.messages)})`)
            .join('; ');
          throw new HttpError(500, `keyring ${op} did not complete everywhere: ${detail}`, KEYRING_PARTIAL_CODE);
        }
        return {};
      },
    })),
  ];
}

async function keyFromBody(req: ApiRequest): Promise<string> {
  const body = await req.json();
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('request body: expected a JSON object {"Key": "<base64 key>"}');
  }
  const key = (body as Record<string, unknown>)['Key'];
  if (typeof key !== 'string' || key.trim() === '') throw badRequest('Key: expected a base64 key string');
  return key.trim();
}

function describeMessages(messages: Record<string, string>): string {
  const entries = Object.entries(messages);
  const shown = entries.slice(0, 5).map(([node, msg]) => `${node}: ${msg}`);
  return entries.length > 5 ? `${shown.join(', ')}, and ${entries.length - 5} more` : shown.join(', ');
}
