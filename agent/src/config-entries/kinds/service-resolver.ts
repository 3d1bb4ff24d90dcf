/**
 * `service-resolver`: which instances answer for a service: named subsets (filter expressions over
 * the instance, optionally passing-only), a default subset, a redirect to another service or
 * cluster, failover per subset ("*" for any) to other services, subsets, clusters or explicit
 * targets, timeouts, and the load-balancing policy. Checks follow Consul's
 * ServiceResolverConfigEntry.Validate.
 */
import {
  clusterName, isSet, name, namespace, partition, subsetName, WILDCARD,
} from './common';
import { FilterSyntaxError, parseFilterExpression } from './filter-expression';
import { type KindSpec } from './kind';
import { failoverPolicy, prioritizeByLocality } from './proxy-defaults';
import { bool, type Ctx, duration, int, join, list, map, obj, present, str, type Validator } from './schema';

/** Envoy's load-balancing policies, as Consul names them. */
export const LB_POLICIES = ['', 'round_robin', 'least_request', 'random', 'ring_hash', 'maglev'] as const;

/** A subset's `Filter`: a go-bexpr expression. */
function filter(): Validator<string> {
  return (v, path, ctx) => {
    const s = str({ min: 1, max: 4096 })(v, path, ctx);
    if (s === undefined) return undefined;
    try {
      parseFilterExpression(s);
    } catch (err) {
      if (err instanceof FilterSyntaxError) return void ctx.problem(path, `is not a valid filter expression: ${err.message}`);
      throw err;
    }
    return s;
  };
}

const TARGET_FIELDS = {
  Service: name(),
  ServiceSubset: subsetName(),
  Namespace: namespace(),
  Partition: partition(),
  Datacenter: clusterName(),
  Peer: clusterName(),
};

function loadBalancer(): Validator {
  return obj({
    Policy: str({ lower: true, enum: LB_POLICIES }),
    RingHashConfig: obj({ MinimumRingSize: int({ max: 8_388_608 }), MaximumRingSize: int({ max: 8_388_608 }) }),
    LeastRequestConfig: obj({ ChoiceCount: int({ min: 2, max: 100 }) }),
    HashPolicies: list(obj({
      Field: str({ enum: ['', 'header', 'cookie', 'query_parameter'] }),
      FieldValue: str({ max: 256 }),
      CookieConfig: obj({ Session: bool(), TTL: duration(), Path: str({ max: 1024 }) }),
      SourceIP: bool(),
      Terminal: bool(),
    }), { max: 16 }),
  }, { check: checkLoadBalancer });
}

function checkLoadBalancer(lb: Record<string, unknown>, path: string, ctx: Ctx): void {
  const policy = (lb['Policy'] as string | undefined) ?? '';
  if (lb['RingHashConfig'] !== undefined && policy !== 'ring_hash') {
    ctx.problem(join(path, 'RingHashConfig'), `only applies to Policy "ring_hash", not ${JSON.stringify(policy)}`);
  }
  const ring = lb['RingHashConfig'] as { MinimumRingSize?: number; MaximumRingSize?: number } | undefined;
  if (ring?.MinimumRingSize && ring.MaximumRingSize && ring.MinimumRingSize > ring.MaximumRingSize) {
    ctx.problem(join(path, 'RingHashConfig.MaximumRingSize'), 'must not be below MinimumRingSize');
  }
  if (lb['LeastRequestConfig'] !== undefined && policy !== 'least_request') {
    ctx.problem(join(path, 'LeastRequestConfig'), `only applies to Policy "least_request", not ${JSON.stringify(policy)}`);
  }
  const hp = (lb['HashPolicies'] as Record<string, unknown>[] | undefined) ?? [];
  if (hp.length > 0 && policy !== 'ring_hash' && policy !== 'maglev') {
    ctx.problem(join(path, 'HashPolicies'), `only apply to the hash-based policies ring_hash and maglev, not ${JSON.stringify(policy)}`);
  }
  hp.forEach((h, i) => {
    const p = `${join(path, 'HashPolicies')}[${i}]`;
    if (h['SourceIP'] === true && present(h['Field'])) ctx.problem(join(p, 'SourceIP'), `cannot hash both the source address and a ${String(h['Field'])}`);
    if (h['SourceIP'] === true && present(h['FieldValue'])) ctx.problem(join(p, 'FieldValue'), 'cannot be set when hashing SourceIP');
    if (present(h['Field']) && !present(h['FieldValue'])) ctx.problem(join(p, 'FieldValue'), `is required with Field ${JSON.stringify(h['Field'])}`);
    if (present(h['FieldValue']) && !present(h['Field'])) ctx.problem(join(p, 'Field'), 'is required with FieldValue');
    const cookie = h['CookieConfig'] as { Session?: boolean; TTL?: string } | undefined;
    if (cookie !== undefined && h['Field'] !== 'cookie') ctx.problem(join(p, 'CookieConfig'), `only applies to Field "cookie", not ${JSON.stringify(h['Field'] ?? '')}`);
    if (cookie?.Session === true && cookie.TTL !== undefined && cookie.TTL !== '0s') ctx.problem(join(p, 'CookieConfig.TTL'), 'a session cookie cannot have a TTL');
  });
}

type Obj = Record<string, unknown>;

function check(e: Obj, ctx: Ctx, failed: ReadonlySet<string>): void {
  // Subset references cannot be judged when Subsets itself was refused.
  if (failed.has('Subsets')) return;
  const subsets = (e['Subsets'] as Obj | undefined) ?? {};
  const isSubset = (s: unknown): boolean => typeof s === 'string' && Object.prototype.hasOwnProperty.call(subsets, s);
  if (present(e['DefaultSubset']) && !isSubset(e['DefaultSubset'])) {
    ctx.problem('DefaultSubset', `${JSON.stringify(e['DefaultSubset'])} is not a subset defined in Subsets`);
  }
  const failover = (e['Failover'] as Record<string, Obj> | undefined) ?? {};
  const r = e['Redirect'] as Obj | undefined;
  if (r !== undefined) checkRedirect(r, e, isSubset, Object.keys(failover).length > 0, ctx);
  for (const [subset, f] of Object.entries(failover)) checkFailover(subset, f, e, isSubset, ctx);
}

function checkRedirect(r: Obj, e: Obj, isSubset: (s: unknown) => boolean, hasFailover: boolean, ctx: Ctx): void {
  if (hasFailover) ctx.problem('Redirect', 'Redirect and Failover cannot both be set');
  if (!Object.values(r).some(isSet)) ctx.problem('Redirect', 'is empty: set at least one of Service, ServiceSubset, Namespace, Datacenter, Peer');
  if (present(r['Peer'])) {
    for (const f of ['ServiceSubset', 'Partition', 'Datacenter']) if (present(r[f])) ctx.problem(`Redirect.${f}`, 'cannot be set with Redirect.Peer');
  }
  if (!present(r['Service'])) {
    for (const f of ['ServiceSubset', 'Namespace', 'Peer']) if (present(r[f])) ctx.problem(`Redirect.${f}`, 'needs Redirect.Service');
  }
  if (present(r['ServiceSubset']) && (!present(r['Service']) || r['Service'] === e['Name']) && !isSubset(r['ServiceSubset'])) {
    ctx.problem('Redirect.ServiceSubset', `${JSON.stringify(r['ServiceSubset'])} is not a subset of ${JSON.stringify(e['Name'])}`);
  }
}

function checkFailover(subset: string, f: Obj, e: Obj, isSubset: (s: unknown) => boolean, ctx: Ctx): void {
  const p = `Failover[${JSON.stringify(subset)}]`;
  if (subset !== WILDCARD && !isSubset(subset)) ctx.problem(p, `${JSON.stringify(subset)} is neither "*" nor a subset defined in Subsets`);
  const targets = (f['Targets'] as Obj[] | undefined) ?? [];
  const dcs = (f['Datacenters'] as string[] | undefined) ?? [];
  if (!['Service', 'ServiceSubset', 'Namespace', 'Datacenters', 'Targets', 'SamenessGroup'].some((k) => isSet(f[k]))) {
    ctx.problem(p, 'needs one of Service, ServiceSubset, Namespace, Datacenters, Targets');
  }
  if (dcs.length > 0 && targets.length > 0) ctx.problem(`${p}.Targets`, 'cannot be set with Datacenters');
  if (targets.length > 0) {
    for (const k of ['Service', 'ServiceSubset', 'Namespace']) if (present(f[k])) ctx.problem(`${p}.${k}`, 'cannot be set with Targets');
  }
  if (present(f['ServiceSubset']) && (!present(f['Service']) || f['Service'] === e['Name']) && !isSubset(f['ServiceSubset'])) {
    ctx.problem(`${p}.ServiceSubset`, `${JSON.stringify(f['ServiceSubset'])} is not a subset of ${JSON.stringify(e['Name'])}`);
  }
  targets.forEach((t, i) => {
    const tp = `${p}.Targets[${i}]`;
    if (present(t['Peer'])) {
      for (const k of ['ServiceSubset', 'Partition', 'Datacenter']) if (present(t[k])) ctx.problem(`${tp}.${k}`, 'cannot be set with Peer');
    }
    if (present(t['ServiceSubset']) && (!present(t['Service']) || t['Service'] === e['Name']) && !isSubset(t['ServiceSubset'])) {
      ctx.problem(`${tp}.ServiceSubset`, `${JSON.stringify(t['ServiceSubset'])} is not a subset of ${JSON.stringify(e['Name'])}`);
    }
    if (!Object.values(t).some(isSet)) ctx.problem(tp, 'is empty');
  });
  dcs.forEach((dc, i) => {
    if (dcs.indexOf(dc) !== i) ctx.problem(`${p}.Datacenters[${i}]`, `${JSON.stringify(dc)} appears more than once`);
  });
}

export const serviceResolver: KindSpec = {
  kind: 'service-resolver',
  name: name(),
  fields: {
    DefaultSubset: subsetName(),
    Subsets: map(obj({ Filter: filter(), OnlyPassing: bool() }), { max: 256, key: subsetName() }),
    Redirect: obj({ ...TARGET_FIELDS, SamenessGroup: clusterName() }),
    Failover: map(obj({
      Service: name(),
      ServiceSubset: subsetName(),
      Namespace: namespace(),
      SamenessGroup: clusterName(),
      Datacenters: list(clusterName(), { max: 64 }),
      Targets: list(obj(TARGET_FIELDS), { max: 64 }),
      Policy: failoverPolicy(),
    }), {
      max: 257,
      key: (k, path, ctx) => (k === WILDCARD ? k : subsetName()(k, path, ctx)),
    }),
    ConnectTimeout: duration(),
    RequestTimeout: duration(),
    LoadBalancer: loadBalancer(),
    PrioritizeByLocality: prioritizeByLocality(),
  },
  check,
};
