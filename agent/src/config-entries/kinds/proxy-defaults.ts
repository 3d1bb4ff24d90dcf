/**
 * `proxy-defaults`: one global entry (Name "global") with defaults for every proxy: opaque proxy
 * `Config`, mode, mesh gateway mode, exposed paths, access logs and locality-aware failover.
 */
import { expose, meshGateway, mutualTlsMode, proxyMode, transparentProxy } from './common';
import { type KindSpec, unsupported } from './kind';
import { bool, type Ctx, join, list, obj, opaque, present, str, type Validator } from './schema';

/** The only name proxy-defaults may have. */
export const PROXY_DEFAULTS_NAME = 'global';

/** `AccessLogs`. */
function accessLogs(): Validator {
  return obj({
    Enabled: bool(),
    DisableListenerLogs: bool(),
    Type: str({ lower: true, enum: ['', 'stdout', 'stderr', 'file'] }),
    Path: str({ max: 4096, pattern: /^\//, patternText: 'an absolute path' }),
    JSONFormat: str({ max: 8192, noControl: false }),
    TextFormat: str({ max: 8192, noControl: false }),
  }, {
    check: (a, path, ctx) => {
      if (a['Type'] === 'file' && !present(a['Path'])) ctx.problem(join(path, 'Path'), 'is required when Type is "file"');
      if (present(a['Path']) && a['Type'] !== 'file') ctx.problem(join(path, 'Path'), 'may only be set when Type is "file"');
      if (present(a['JSONFormat']) && present(a['TextFormat'])) ctx.problem(join(path, 'TextFormat'), 'JSONFormat and TextFormat are mutually exclusive');
      if (present(a['JSONFormat'])) {
        try {
          JSON.parse(a['JSONFormat'] as string);
        } catch {
          ctx.problem(join(path, 'JSONFormat'), 'must be a JSON object template');
        }
      }
    },
  });
}

/** `FailoverPolicy { Mode, Regions }` (also used by service-resolver failover). */
export function failoverPolicy(): Validator {
  return obj({
    Mode: str({ enum: ['', 'default', 'order-by-locality'] }),
    Regions: list(str({ min: 1, max: 256 }), { max: 64 }),
  });
}

/** `PrioritizeByLocality { Mode }`. */
export function prioritizeByLocality(): Validator {
  return obj({ Mode: str({ lower: true, enum: ['', 'none', 'failover'] }) });
}

function check(e: Record<string, unknown>, ctx: Ctx): void {
  if (present(e['Namespace']) && e['Namespace'] !== 'default') ctx.problem('Namespace', 'proxy-defaults is global: only "default"');
}

export const proxyDefaults: KindSpec = {
  kind: 'proxy-defaults',
  defaultName: PROXY_DEFAULTS_NAME,
  name: (v, path, ctx) => (v === PROXY_DEFAULTS_NAME ? v : void ctx.problem(path, `must be "global" (the only proxy-defaults entry), got ${JSON.stringify(v)}`)),
  fields: {
    Config: opaque(),
    Mode: proxyMode(),
    TransparentProxy: transparentProxy(),
    MutualTLSMode: mutualTlsMode(),
    MeshGateway: meshGateway(),
    Expose: expose(),
    AccessLogs: accessLogs(),
    FailoverPolicy: failoverPolicy(),
    PrioritizeByLocality: prioritizeByLocality(),
    EnvoyExtensions: unsupported('Shoal runs its own proxy, not Envoy'),
  },
  check,
};
