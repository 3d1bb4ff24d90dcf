/**
 * Validates and normalizes a config entry (Consul's `PUT /v1/config` body or an entry from a file):
 * Kind first, then the kind's fields, each problem named by its field path, all reported at once.
 * The result is the stored shape: PascalCase keys, `Kind` and `Name` first, durations as Go prints
 * them, computed fields (intention precedence) filled in. Validating a stored entry again returns
 * it unchanged, which is how entries arriving from peers are checked.
 */
import { ValidationError, type ValidationProblem } from '../catalog/types';
import { commonFields } from './kinds/common';
import { exportedServices } from './kinds/exported-services';
import type { KindSpec } from './kinds/kind';
import { mesh } from './kinds/mesh';
import { proxyDefaults } from './kinds/proxy-defaults';
import { canonicalKey, Ctx, isPlainObject, meta, obj, typeName } from './kinds/schema';
import { serviceDefaults } from './kinds/service-defaults';
import { serviceIntentions } from './kinds/service-intentions';
import { serviceResolver } from './kinds/service-resolver';
import { serviceRouter } from './kinds/service-router';
import { serviceSplitter } from './kinds/service-splitter';
import { CONFIG_ENTRY_KINDS, type ConfigEntry, type ConfigEntryKind } from './types';

/** Every kind's rules. */
export const KINDS: Readonly<Record<ConfigEntryKind, KindSpec>> = {
  'service-defaults': serviceDefaults,
  'proxy-defaults': proxyDefaults,
  'service-resolver': serviceResolver,
  'service-splitter': serviceSplitter,
  'service-router': serviceRouter,
  'service-intentions': serviceIntentions,
  'exported-services': exportedServices,
  mesh,
};

/** Largest entry accepted, as JSON: 256 KiB (a few thousand intention sources). */
export const MAX_ENTRY_BYTES = 256 * 1024;

/** Fields Consul returns beside an entry that a written-back `config read` output carries. */
const READ_ONLY = ['CreateIndex', 'ModifyIndex'];

/** True for a kind Shoal knows. */
export function isConfigEntryKind(k: unknown): k is ConfigEntryKind {
  return typeof k === 'string' && (CONFIG_ENTRY_KINDS as readonly string[]).includes(k);
}

/** Validates `input`; returns the normalized entry or every problem found. */
export function checkConfigEntry(input: unknown, source = 'request body'): { entry?: ConfigEntry; problems: ValidationProblem[] } {
  const ctx = new Ctx(source);
  if (!isPlainObject(input)) {
    ctx.problem('', `expected an object, got ${typeName(input)}`);
    return { problems: ctx.problems };
  }
  let size: number;
  try {
    size = Buffer.byteLength(JSON.stringify(input));
  } catch {
    ctx.problem('', 'must be plain JSON data');
    return { problems: ctx.problems };
  }
  if (size > MAX_ENTRY_BYTES) {
    ctx.problem('', `takes ${size} bytes as JSON; the limit is ${MAX_ENTRY_BYTES}`);
    return { problems: ctx.problems };
  }
  const kindKeys = Object.keys(input).filter((k) => canonicalKey(k) === 'kind');
  const kind = kindKeys.length === 1 ? input[kindKeys[0]!] : undefined;
  if (!isConfigEntryKind(kind)) {
    ctx.problem('Kind', kind === undefined ? `is required: one of ${CONFIG_ENTRY_KINDS.join(', ')}` : `must be one of ${CONFIG_ENTRY_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
    return { problems: ctx.problems };
  }
  const spec = KINDS[kind];
  const validator = obj({
    Kind: (v) => v,
    Name: spec.name,
    ...commonFields({ namespaceWildcard: spec.namespaceWildcard }),
    Meta: meta(),
    ...spec.fields,
  }, {
    required: spec.defaultName === undefined ? ['Name'] : [],
    ignored: [...READ_ONLY, ...(spec.ignored ?? [])],
    // Cross-field checks run on whatever passed field checks, so one run reports both kinds of problem.
    check: (e, _path, _ctx, failed) => {
      if (e['Name'] === undefined && spec.defaultName !== undefined) e['Name'] = spec.defaultName;
      spec.check?.(e, ctx, failed);
    },
  });
  const out = validator(input, '', ctx);
  if (out === undefined || ctx.problems.length > 0) return { problems: ctx.problems };
  spec.normalize?.(out);
  // Kind and Name first, the rest as the kind lists its fields.
  const { Kind: _k, Name, ...rest } = out;
  return { entry: { Kind: kind, Name: Name as string, ...rest }, problems: [] };
}

/** Validates `input`; throws a ValidationError listing every problem. */
export function validateConfigEntry(input: unknown, source = 'request body'): ConfigEntry {
  const r = checkConfigEntry(input, source);
  if (r.entry === undefined) throw new ValidationError(r.problems);
  return r.entry;
}
