/** `/metrics` (Prometheus text) and Consul's `/v1/agent/metrics?format=prometheus` alias. */
import type { AgentApi } from './agent-api';
import { badRequest } from './errors';
import type { Route } from './router';

/** The metrics endpoints. */
export function metricsRoutes(api: AgentApi): Route[] {
  const prometheus = async (): Promise<{ raw: { contentType: string; data: string } }> => {
    const m = await api.metricsText();
    return { raw: { contentType: m.contentType, data: m.text } };
  };
  return [
    { method: 'GET', path: '/metrics', handler: prometheus },
    {
      method: 'GET',
      path: '/v1/agent/metrics',
      handler: (req) => {
        if (req.query.get('format') !== 'prometheus') throw badRequest('format: only "prometheus" is supported (or use /metrics)');
        return prometheus();
      },
    },
  ];
}
