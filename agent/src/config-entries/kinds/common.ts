/**
 * Blocks that several config entry kinds share, with Consul's fields and checks: names, protocol,
 * proxy mode, mesh gateway mode, transparent proxy, expose paths, header modifiers, and the HTTP
 * matchers (path, header, methods) that service-router and L7 intentions both use.
 */
import {
  bool, type Ctx, type Fields, int, join, list, map, obj, present, str, type Validator,
} from './schema';

/** Consul's wildcard. */
export const WILDCARD = '*';

/** A service, node or entry name: 1-256 characters, no '/' (entry names go into URL paths) or spaces. */
export function name(o: { wildcard?: boolean } = {}): Validator<string> {
  const base = str({ min: 1, max: 256, pattern: /^[^/\s]+$/, patternText: 'a name without "/" or whitespace' });
  return (v, path, ctx) => {
    const s = base(v, path, ctx);
    if (s === undefined) return undefined;
    if (s.includes(WILDCARD) && (o.wildcard !== true || s !== WILDCARD)) {
      return void ctx.problem(path, o.wildcard === true
        ? 'wildcard character "*" cannot be used with partial values'
        : 'must be the name of a service, not a wildcard');
    }
    return s;
  };
}

/** A subset name: a DNS label, as Consul requires (subsets go into SNI names). */
export function subsetName(): Validator<string> {
  return str({
    min: 1, max: 63, pattern: /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/,
    patternText: 'a DNS label: lower-case letters, digits and "-", starting and ending with a letter or digit',
  });
}

/** A namespace name; "*" where wildcards are allowed. */
export function namespace(o: { wildcard?: boolean } = {}): Validator<string> {
  return name(o);
}

/** Admin partitions are an Enterprise feature Shoal does not have: only "default" (or empty). */
export function partition(): Validator<string> {
  return (v, path, ctx) => {
    if (v === '' || v === 'default') return v;
    return void ctx.problem(path, `admin partitions are not supported: use "default" or leave it out, got ${JSON.stringify(v)}`);
  };
}

/** A datacenter (cluster) or peer name. */
export function clusterName(): Validator<string> {
  return str({ min: 1, max: 256, pattern: /^[^\s/*]+$/, patternText: 'a cluster name without whitespace, "/" or "*"' });
}

/** Service protocols Shoal's proxy speaks. */
export const PROTOCOLS = ['tcp', 'http', 'http2', 'grpc'] as const;

export function protocol(): Validator<string> {
  return str({ lower: true, enum: PROTOCOLS });
}

/** True for protocols that enable L7 features (routing, splitting, L7 intentions). */
export function isHttpLike(p: unknown): boolean {
  return p === 'http' || p === 'http2' || p === 'grpc';
}

/** Proxy mode: "" (default), "direct" or "transparent". */
export function proxyMode(): Validator<string> {
  return str({ lower: true, enum: ['', 'direct', 'transparent'] });
}

/** mTLS mode: "", "strict" or "permissive". */
export function mutualTlsMode(): Validator<string> {
  return str({ lower: true, enum: ['', 'strict', 'permissive'] });
}

/** `MeshGateway { Mode }`. */
export function meshGateway(): Validator {
  return obj({ Mode: str({ lower: true, enum: ['', 'none', 'local', 'remote'] }) });
}

/** `TransparentProxy { OutboundListenerPort, DialedDirectly }`. */
export function transparentProxy(): Validator {
  return obj({ OutboundListenerPort: int({ max: 65535 }), DialedDirectly: bool() });
}

/** `Expose { Checks, Paths [{ Path, LocalPathPort, ListenerPort, Protocol }] }`. */
export function expose(): Validator {
  return obj({
    Checks: bool(),
    Paths: list(obj({
      Path: str({ min: 1, pattern: /^\//, patternText: 'a path starting with "/"' }),
      LocalPathPort: int({ max: 65535 }),
      ListenerPort: int({ max: 65535 }),
      Protocol: str({ lower: true, enum: ['http', 'http2'] }),
    }, { required: ['Path'] }), { max: 64 }),
  });
}

/** `RequestHeaders`/`ResponseHeaders { Add, Set, Remove }`. */
export function headerModifiers(): Validator {
  const header = str({ min: 1, max: 256, pattern: /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, patternText: 'an HTTP header name' });
  return obj({
    Add: map(str({ max: 8192 }), { max: 64, key: header }),
    Set: map(str({ max: 8192 }), { max: 64, key: header }),
    Remove: list(header, { max: 64 }),
  });
}

/** An RE2-style regular expression; checked with JavaScript's engine, which accepts a superset. */
export function regex(): Validator<string> {
  const base = str({ min: 1, max: 1024 });
  return (v, path, ctx) => {
    const s = base(v, path, ctx);
    if (s === undefined) return undefined;
    try {
      new RegExp(s);
    } catch (err) {
      return void ctx.problem(path, `is not a valid regular expression: ${(err as Error).message}`);
    }
    return s;
  };
}

/** Consul's HTTP methods. */
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE'] as const;

/** `Methods`: upper-cased, each a known method, none twice. */
export function methods(): Validator<string[]> {
  return (v, path, ctx) => {
    const items = list(str({ min: 1, max: 16 }), { max: 16 })(v, path, ctx);
    if (items === undefined) return undefined;
    const out = items.map((m) => m.toUpperCase());
    const seen = new Set<string>();
    let ok = true;
    out.forEach((m, i) => {
      if (!(HTTP_METHODS as readonly string[]).includes(m)) {
        ctx.problem(`${path}[${i}]`, `must be one of ${HTTP_METHODS.join(', ')}, got ${JSON.stringify(items[i])}`);
        ok = false;
      } else if (seen.has(m)) {
        ctx.problem(`${path}[${i}]`, `${m} appears more than once`);
        ok = false;
      }
      seen.add(m);
    });
    return ok ? out : undefined;
  };
}

/** `Header [{ Name, Present | Exact | Prefix | Suffix | Regex, Invert }]` (router and intentions). */
export function headerMatches(): Validator {
  return list(obj({
    Name: str({ min: 1, max: 256 }),
    Present: bool(),
    Exact: str({ max: 8192 }),
    Prefix: str({ max: 8192 }),
    Suffix: str({ max: 8192 }),
    Regex: regex(),
    Invert: bool(),
  }, { required: ['Name'], check: (h, p, ctx) => exactlyOne(h, ['Present', 'Exact', 'Prefix', 'Suffix', 'Regex'], p, ctx) }), { max: 64 });
}

/** The path matchers: at most one of PathExact, PathPrefix, PathRegex; exact and prefix start with "/". */
export const PATH_FIELDS: Fields = {
  PathExact: str({ max: 4096, pattern: /^\//, patternText: 'a path starting with "/"' }),
  PathPrefix: str({ max: 4096, pattern: /^\//, patternText: 'a path starting with "/"' }),
  PathRegex: regex(),
};

/** Records a problem unless at most one of `fields` is set. */
export function atMostOne(o: Record<string, unknown>, fields: readonly string[], path: string, ctx: Ctx): void {
  const set = fields.filter((f) => isSet(o[f]));
  if (set.length > 1) ctx.problem(join(path, set[1]!), `only one of ${fields.join(', ')} may be set, got ${set.join(' and ')}`);
}

/** Records a problem unless exactly one of `fields` is set (`Present: false` counts as unset). */
export function exactlyOne(o: Record<string, unknown>, fields: readonly string[], path: string, ctx: Ctx): void {
  const set = fields.filter((f) => isSet(o[f]));
  if (set.length === 0) ctx.problem(path, `needs one of ${fields.join(', ')}`);
  else if (set.length > 1) ctx.problem(join(path, set[1]!), `only one of ${fields.join(', ')} may be set, got ${set.join(' and ')}`);
}

/** Set in Consul's sense: non-empty string, true, non-zero number, non-empty list or map. */
export function isSet(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === '' || v === 0) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** Fields every entry may carry besides its own. */
export function commonFields(o: { namespaceWildcard?: boolean } = {}): Fields {
  return { Namespace: namespace({ wildcard: o.namespaceWildcard }), Partition: partition() };
}

/** Re-exported so kinds import one module. */
export { present };
