/**
 * `exported-services`: which services this cluster makes available to other clusters (cluster
 * peers) or sameness groups. Name is the partition, which in Shoal (as in Consul CE) is "default".
 */
import { clusterName, exactlyOne, name, namespace, partition } from './common';
import { type KindSpec } from './kind';
import { type Ctx, list, obj } from './schema';

function check(e: Record<string, unknown>, ctx: Ctx): void {
  const services = (e['Services'] as Record<string, unknown>[] | undefined) ?? [];
  const seen = new Set<string>();
  services.forEach((s, i) => {
    const key = `${String(s['Namespace'] ?? 'default')}/${String(s['Name'])}`;
    if (seen.has(key)) ctx.problem(`Services[${i}]`, `exports ${JSON.stringify(s['Name'])} more than once`);
    seen.add(key);
  });
}

export const exportedServices: KindSpec = {
  kind: 'exported-services',
  defaultName: 'default',
  name: (v, path, ctx) => (v === 'default' ? v : void ctx.problem(path, `must be "default" (admin partitions are not supported), got ${JSON.stringify(v)}`)),
  fields: {
    Services: list(obj({
      Name: name({ wildcard: true }),
      Namespace: namespace({ wildcard: true }),
      Consumers: list(obj({
        Peer: clusterName(),
        Partition: partition(),
        SamenessGroup: clusterName(),
      }, { check: (c, path, ctx) => exactlyOne(c, ['Peer', 'Partition', 'SamenessGroup'], path, ctx) }), { min: 1, max: 256 }),
    }, { required: ['Name', 'Consumers'] }), { max: 1024 }),
  },
  check,
};
