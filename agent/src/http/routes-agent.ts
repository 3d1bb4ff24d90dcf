/** `/v1/agent/*`: membership, self, join, leave, reload. */
import type { AgentApi } from './agent-api';
import { badRequest, HttpError } from './errors';
import { memberJson } from './members-json';
import type { Route } from './router';

/** Code for WAN requests to an agent that is not in the WAN pool. */
export const NOT_SERVER_CODE = 'SHOAL_ERR_NOT_SERVER';

/** The agent endpoints. */
export function agentRoutes(api: AgentApi): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/agent/members',
      handler: (req) => {
        const wan = req.flag('wan');
        const members = wan ? api.wanMembers() : api.lanMembers();
        if (members === undefined) throw notServer();
        return { body: members.map(memberJson) };
      },
    },
    {
      method: 'GET',
      path: '/v1/agent/self',
      handler: () => {
        const self = api.self();
        return { body: { Config: self.config, Member: memberJson(self.member), Stats: self.stats, Meta: {} } };
      },
    },
    {
      method: 'PUT',
      path: '/v1/agent/join/:address',
      handler: async (req) => {
        const wan = req.flag('wan');
        const address = req.params['address']!.trim();
        if (address === '') throw badRequest('address: expected host or host:port');
        const result = await api.join([address], wan);
        if (result.joined === 0) {
          const why = result.errors.map((e) => `${e.addr}: ${e.error}`).join('; ');
          throw new HttpError(500, `could not join ${wan ? 'WAN' : 'LAN'} pool through ${address}: ${why || 'no answer'}`, 'SHOAL_ERR_JOIN');
        }
        return {};
      },
    },
    {
      method: 'PUT',
      path: '/v1/agent/leave',
      handler: async () => {
        await api.leave();
        // Reply first, then stop: the caller learns the leave completed before the socket closes.
        return { after: () => void api.shutdown() };
      },
    },
    {
      method: 'PUT',
      path: '/v1/agent/reload',
      handler: async () => {
        const result = await api.reload();
        return { body: { Applied: result.applied, RestartRequired: result.restartRequired } };
      },
    },
  ];
}

function notServer(): HttpError {
  return new HttpError(400, 'this agent is not a server, so it is not in the WAN pool; ask a server agent', NOT_SERVER_CODE);
}
