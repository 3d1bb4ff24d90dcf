/**
 * `service-intentions`: who may call a service. Each source (a service name, or "*") either has an
 * Action (allow or deny: L4) or Permissions (L7 rules on path, headers and methods, each with its
 * own Action), never both. Sources are kept ordered by precedence, computed as Consul does: exact
 * names before wildcards, the destination's exactness first (9 exact->exact ... 5 *->*; lower with
 * wildcard namespaces).
 */
import {
  atMostOne, clusterName, headerMatches, isSet, methods, name, namespace, partition, PATH_FIELDS, present, WILDCARD,
} from './common';
import { type KindSpec, unsupported } from './kind';
import { type Ctx, int, list, obj, str } from './schema';

type Obj = Record<string, unknown>;

const action = str({ lower: true, enum: ['allow', 'deny'] });

const permission = obj({
  Action: action,
  HTTP: obj({ ...PATH_FIELDS, Header: headerMatches(), Methods: methods() }, {
    check: (h, p, ctx) => {
      atMostOne(h, ['PathExact', 'PathPrefix', 'PathRegex'], p, ctx);
      if (!['PathExact', 'PathPrefix', 'PathRegex', 'Header', 'Methods'].some((k) => isSet(h[k]))) {
        ctx.problem(p, 'must match on at least one of PathExact, PathPrefix, PathRegex, Header, Methods');
      }
    },
  }),
}, { required: ['Action', 'HTTP'] });

const source = obj({
  Name: name({ wildcard: true }),
  Namespace: namespace({ wildcard: true }),
  Partition: partition(),
  Peer: clusterName(),
  SamenessGroup: clusterName(),
  Action: action,
  Permissions: list(permission, { max: 256 }),
  // Read-only: recomputed on every write; accepted so that `config read` output can be written back.
  Precedence: int({ max: 9 }),
  Type: str({ enum: ['consul'] }),
  Description: str({ max: 512 }),
}, { required: ['Name'], check: checkSource });

/** Exact values among namespace and name: 2 both, 1 namespace only, 0 wildcard namespace. */
function countExact(nameValue: unknown, ns: unknown): number {
  if (ns === WILDCARD) return 0;
  return nameValue === WILDCARD ? 1 : 2;
}

/** Consul's computeIntentionPrecedence. */
export function intentionPrecedence(dest: { name: unknown; namespace: unknown }, src: { name: unknown; namespace: unknown }): number {
  const max = [3, 6, 9][countExact(dest.name, dest.namespace)]!;
  return max - (2 - countExact(src.name, src.namespace));
}

/** One source on its own: L4 Action xor L7 Permissions; wildcards; peer and partition. */
function checkSource(s: Obj, p: string, ctx: Ctx, failed: ReadonlySet<string>): void {
  checkWildcards(s['Name'], s['Namespace'], p, ctx);
  const perms = (s['Permissions'] as Obj[] | undefined) ?? [];
  if (perms.length === 0 && !present(s['Action']) && !failed.has('Action') && !failed.has('Permissions')) {
    ctx.problem(`${p}.Action`, 'must be "allow" or "deny" (or give Permissions)');
  }
  if (perms.length > 0 && present(s['Action'])) ctx.problem(`${p}.Action`, 'must be omitted when Permissions are given');
  if (present(s['Peer']) && present(s['Partition']) && s['Partition'] !== 'default') ctx.problem(`${p}.Peer`, 'cannot be set with Partition');
  if (present(s['SamenessGroup']) && present(s['Peer'])) ctx.problem(`${p}.SamenessGroup`, 'cannot be set with Peer');
}

/** Across sources: one source (peer, sameness group, namespace, name) appears once. */
function checkDuplicates(sources: ReadonlyArray<Obj | undefined>, path: string, ctx: Ctx): void {
  const seen = new Set<string>();
  sources.forEach((s, i) => {
    if (s === undefined) return;
    const key = JSON.stringify([s['Peer'] ?? '', s['SamenessGroup'] ?? '', s['Namespace'] ?? '', s['Name']]);
    if (seen.has(key)) ctx.problem(`${path}[${i}]`, `source ${JSON.stringify(s['Name'])} appears more than once`);
    seen.add(key);
  });
}

function check(e: Obj, ctx: Ctx): void {
  checkWildcards(e['Name'], e['Namespace'], '', ctx);
  const destWild = e['Name'] === WILDCARD || e['Namespace'] === WILDCARD;
  const sources = (e['Sources'] as Obj[] | undefined) ?? [];
  sources.forEach((s, i) => {
    if (destWild && ((s['Permissions'] as Obj[] | undefined) ?? []).length > 0) {
      ctx.problem(`Sources[${i}].Permissions`, 'cannot be used on intentions with a wildcard destination');
    }
  });
}

function checkWildcards(n: unknown, ns: unknown, path: string, ctx: Ctx): void {
  if (n !== WILDCARD && ns === WILDCARD) ctx.problem(path === '' ? 'Name' : `${path}.Name`, 'an exact name cannot follow a wildcard namespace');
}

/** Source type defaults to "consul"; precedence computed; sources sorted by precedence, stably. */
function normalize(e: Obj): void {
  const sources = e['Sources'] as Obj[];
  const dest = { name: e['Name'], namespace: e['Namespace'] ?? 'default' };
  for (const s of sources) {
    s['Type'] = 'consul';
    s['Precedence'] = intentionPrecedence(dest, { name: s['Name'], namespace: s['Namespace'] ?? e['Namespace'] ?? 'default' });
  }
  const ordered = sources.map((s, i) => ({ s, i })).sort((a, b) => (b.s['Precedence'] as number) - (a.s['Precedence'] as number) || a.i - b.i);
  e['Sources'] = ordered.map((x) => x.s);
}

export const serviceIntentions: KindSpec = {
  kind: 'service-intentions',
  name: name({ wildcard: true }),
  namespaceWildcard: true,
  ignored: ['Hash'],
  fields: {
    Sources: list(source, { min: 1, max: 1024, check: checkDuplicates }),
    JWT: unsupported('JWT providers are not implemented'),
  },
  check: (e, ctx, failed) => {
    if (e['Sources'] === undefined && !failed.has('Sources')) ctx.problem('Sources', 'at least one source is required');
    check(e, ctx);
  },
  normalize,
};
