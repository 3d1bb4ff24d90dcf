/**
 * `service-defaults`: defaults for every instance of one service: its protocol (which turns on L7
 * routing, splitting, retries and L7 intentions), proxy mode, mesh gateway mode, exposed paths, and
 * per-upstream limits and passive health checking (outlier detection).
 */
import { isIP } from 'node:net';
import {
  clusterName, expose, meshGateway, mutualTlsMode, name, namespace, partition, protocol, proxyMode, transparentProxy, WILDCARD,
} from './common';
import { type KindSpec, unsupported } from './kind';
import { type Ctx, duration, type Fields, int, join, list, obj, present, str, type Validator } from './schema';

/** `BalanceInboundConnections` / `BalanceOutboundConnections`. */
const connectionBalance = (): Validator<string> => str({ enum: ['', 'exact_balance'] });

/** `Limits`: circuit breaking per upstream. 0 means Shoal's default. */
function limits(): Validator {
  return obj({ MaxConnections: int(), MaxPendingRequests: int(), MaxConcurrentRequests: int() });
}

/** `PassiveHealthCheck`: outlier detection per upstream. */
function passiveHealthCheck(): Validator {
  return obj({
    Interval: duration(),
    MaxFailures: int(),
    EnforcingConsecutive5xx: int({ max: 100 }),
    MaxEjectionPercent: int({ max: 100 }),
    BaseEjectionTime: duration(),
  });
}

/** One `UpstreamConfig` block; `named` for Overrides (Name required), not for Defaults. */
export function upstreamConfig(named: boolean): Validator {
  const fields: Fields = {
    Name: name({ wildcard: true }),
    Namespace: namespace({ wildcard: true }),
    Partition: partition(),
    Peer: clusterName(),
    Protocol: protocol(),
    ConnectTimeoutMs: int(),
    Limits: limits(),
    PassiveHealthCheck: passiveHealthCheck(),
    MeshGateway: meshGateway(),
    BalanceOutboundConnections: connectionBalance(),
    EnvoyListenerJSON: unsupported('Shoal runs its own proxy, not Envoy'),
    EnvoyClusterJSON: unsupported('Shoal runs its own proxy, not Envoy'),
  };
  return obj(fields, {
    check: (u, path, ctx) => {
      if (named) {
        if (!present(u['Name'])) ctx.problem(join(path, 'Name'), 'is required in an override');
        else if (u['Name'] === WILDCARD) ctx.problem(join(path, 'Name'), 'a wildcard name is not supported in an override');
        if (u['Namespace'] === WILDCARD) ctx.problem(join(path, 'Namespace'), 'a wildcard namespace is not supported in an override');
      } else {
        for (const f of ['Name', 'Namespace', 'Partition', 'Peer']) {
          if (present(u[f])) ctx.problem(join(path, f), 'must be empty in Defaults (it applies to every upstream)');
        }
      }
    },
  });
}

/** A hostname (RFC 1123) or IP literal for Destination addresses. */
function endpointAddress(): Validator<string> {
  const host = /^(?=.{1,253}$)([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*\.?$/;
  return (v, path, ctx) => {
    const s = str({ min: 1, max: 253 })(v, path, ctx);
    if (s === undefined) return undefined;
    if (isIP(s) === 0 && !host.test(s)) return void ctx.problem(path, `must be an IP address or a hostname, got ${JSON.stringify(s)}`);
    return s;
  };
}

function check(e: Record<string, unknown>, ctx: Ctx): void {
  if (e['UpstreamConfig'] !== undefined && e['Destination'] !== undefined) {
    ctx.problem('Destination', 'UpstreamConfig and Destination are mutually exclusive');
  }
  const overrides = (e['UpstreamConfig'] as { Overrides?: Record<string, unknown>[] } | undefined)?.Overrides ?? [];
  const seen = new Set<string>();
  overrides.forEach((o, i) => {
    const key = `${String(o['Peer'] ?? '')}/${String(o['Namespace'] ?? 'default')}/${String(o['Name'])}`;
    if (seen.has(key)) ctx.problem(`UpstreamConfig.Overrides[${i}]`, `configures upstream ${JSON.stringify(o['Name'])} more than once`);
    seen.add(key);
  });
  const dest = e['Destination'] as { Addresses?: string[] } | undefined;
  dest?.Addresses?.forEach((a, i) => {
    if (dest.Addresses!.indexOf(a) !== i) ctx.problem(`Destination.Addresses[${i}]`, `duplicate address ${JSON.stringify(a)}`);
  });
}

export const serviceDefaults: KindSpec = {
  kind: 'service-defaults',
  name: name(),
  fields: {
    Protocol: protocol(),
    Mode: proxyMode(),
    TransparentProxy: transparentProxy(),
    MutualTLSMode: mutualTlsMode(),
    MeshGateway: meshGateway(),
    Expose: expose(),
    ExternalSNI: str({ max: 253 }),
    UpstreamConfig: obj({ Defaults: upstreamConfig(false), Overrides: list(upstreamConfig(true), { max: 256 }) }),
    Destination: obj({
      Addresses: list(endpointAddress(), { min: 1, max: 64 }),
      Port: int({ min: 1, max: 65535 }),
    }, { required: ['Addresses', 'Port'] }),
    MaxInboundConnections: int(),
    LocalConnectTimeoutMs: int(),
    LocalRequestTimeoutMs: int(),
    BalanceInboundConnections: connectionBalance(),
    EnvoyExtensions: unsupported('Shoal runs its own proxy, not Envoy'),
  },
  check,
};
