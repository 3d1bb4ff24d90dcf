/**
 * A small validation toolkit for config entries: validators that check one value, record every
 * problem with the field's path (`Routes[0].Match.HTTP.PathPrefix`), and return the normalized
 * value (or undefined when it was refused), so one run reports everything wrong with an entry.
 *
 * Field names are matched as Consul's decoder does: case-insensitively and ignoring underscores, so
 * `PathPrefix`, `path_prefix` and `pathPrefix` are one field (HCL files use snake_case, the API
 * PascalCase). Output always uses the PascalCase name. Unknown fields are refused, naming them.
 */
import type { ValidationProblem } from '../../catalog/types';
import { DURATION_EXPECTED, formatDurationMs, parseDurationMs } from '../../config/duration';

/** Collects problems for one validation run. */
export class Ctx {
  readonly problems: ValidationProblem[] = [];

  constructor(readonly source: string) {}

  problem(field: string, message: string): void {
    this.problems.push({ source: this.source, field: field === '' ? '(entry)' : field, message });
  }
}

/** Checks `v` at `path`; returns the normalized value, or undefined after recording a problem. */
export type Validator<T = unknown> = (v: unknown, path: string, ctx: Ctx) => T | undefined;

/** `path` + `.name` (no leading dot at the top). */
export function join(path: string, name: string): string {
  return path === '' ? name : `${path}.${name}`;
}

/** How Consul's decoder compares field names: lower case, underscores and dashes ignored. */
export function canonicalKey(k: string): string {
  return k.toLowerCase().replace(/[_-]/g, '');
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Options of `str`. */
export interface StrOptions {
  /** Allowed values (after `lower`). */
  enum?: readonly string[];
  /** Minimum length (default 0). */
  min?: number;
  /** Maximum length (default 1024). */
  max?: number;
  pattern?: RegExp;
  /** What `pattern` means, for the message. */
  patternText?: string;
  /** Lower-case the value first (Consul does for protocols and modes). */
  lower?: boolean;
  /** Refuse control characters (default true). */
  noControl?: boolean;
}

/** A string. */
export function str(o: StrOptions = {}): Validator<string> {
  return (v, path, ctx) => {
    if (typeof v !== 'string') return void ctx.problem(path, `expected a string, got ${typeName(v)}`);
    const s = o.lower === true ? v.toLowerCase() : v;
    const max = o.max ?? 1024;
    if (s.length < (o.min ?? 0)) return void ctx.problem(path, o.min === 1 ? 'must not be empty' : `must be at least ${o.min} characters`);
    if (s.length > max) return void ctx.problem(path, `must be at most ${max} characters, got ${s.length}`);
    if (o.noControl !== false && CONTROL.test(s)) return void ctx.problem(path, 'must not contain control characters');
    if (o.enum !== undefined && !o.enum.includes(s)) {
      return void ctx.problem(path, `must be one of ${o.enum.map((e) => JSON.stringify(e)).join(', ')}, got ${JSON.stringify(v)}`);
    }
    if (o.pattern !== undefined && s !== '' && !o.pattern.test(s)) return void ctx.problem(path, `must be ${o.patternText ?? `matching ${o.pattern}`}, got ${JSON.stringify(v)}`);
    return s;
  };
}

/** A boolean. */
export function bool(): Validator<boolean> {
  return (v, path, ctx) => (typeof v === 'boolean' ? v : void ctx.problem(path, `expected true or false, got ${typeName(v)}`));
}

/** An integer in [min, max] (defaults: 0 and 2^31 - 1, Go's int32 range as Consul uses). */
export function int(o: { min?: number; max?: number } = {}): Validator<number> {
  const min = o.min ?? 0;
  const max = o.max ?? 2 ** 31 - 1;
  return (v, path, ctx) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) return void ctx.problem(path, `expected an integer, got ${typeName(v)}`);
    if (v < min || v > max) return void ctx.problem(path, `must be between ${min} and ${max}, got ${v}`);
    return v;
  };
}

/** A finite number in [min, max]. */
export function num(o: { min?: number; max?: number } = {}): Validator<number> {
  return (v, path, ctx) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) return void ctx.problem(path, `expected a number, got ${typeName(v)}`);
    if (o.min !== undefined && v < o.min) return void ctx.problem(path, `must be at least ${o.min}, got ${v}`);
    if (o.max !== undefined && v > o.max) return void ctx.problem(path, `must be at most ${o.max}, got ${v}`);
    return v;
  };
}

/** A Go duration string ("15s", "1m30s"), stored as Go prints it; `0` or "0s" allowed. */
export function duration(): Validator<string> {
  return (v, path, ctx) => {
    const ms = typeof v === 'string' ? parseDurationMs(v) : undefined;
    if (ms === undefined) return void ctx.problem(path, `${DURATION_EXPECTED.replace(/, or a number of milliseconds$/, '')}, got ${JSON.stringify(v)}`);
    return formatDurationMs(ms);
  };
}

/** Options of `list`. */
export interface ListOptions<T> {
  /** Most items (default 1024). */
  max?: number;
  min?: number;
  /** Checks across items; `items[i]` is undefined where item i was refused (indexes stay true). */
  check?: (items: ReadonlyArray<T | undefined>, path: string, ctx: Ctx) => void;
}

/** A list of items. */
export function list<T>(item: Validator<T>, o: ListOptions<T> = {}): Validator<T[]> {
  const max = o.max ?? 1024;
  return (v, path, ctx) => {
    if (!Array.isArray(v)) return void ctx.problem(path, `expected a list, got ${typeName(v)}`);
    if (v.length > max) return void ctx.problem(path, `must have at most ${max} items, got ${v.length}`);
    if (o.min !== undefined && v.length < o.min) return void ctx.problem(path, o.min === 1 ? 'must not be empty' : `must have at least ${o.min} items`);
    const items = v.map((x, i) => item(x, `${path}[${i}]`, ctx));
    o.check?.(items, path, ctx);
    return items.every((x) => x !== undefined) ? (items as T[]) : undefined;
  };
}

/** A map of user-chosen keys to values (subsets, failover targets, opaque maps). */
export function map<T>(value: Validator<T>, o: { max?: number; key?: Validator<string> } = {}): Validator<Record<string, T>> {
  const max = o.max ?? 1024;
  return (v, path, ctx) => {
    if (!isPlainObject(v)) return void ctx.problem(path, `expected a map, got ${typeName(v)}`);
    const keys = Object.keys(v);
    if (keys.length > max) return void ctx.problem(path, `must have at most ${max} entries, got ${keys.length}`);
    const out: Record<string, T> = {};
    let ok = true;
    for (const k of keys.sort()) {
      const p = `${path}[${JSON.stringify(k)}]`;
      if (o.key !== undefined && o.key(k, p, ctx) === undefined) ok = false;
      const r = value(v[k], p, ctx);
      if (r === undefined) ok = false;
      else out[k] = r;
    }
    return ok ? out : undefined;
  };
}

/** Consul's entry `Meta`: at most 64 pairs, keys of 128 and values of 512 characters. */
export function meta(): Validator<Record<string, string>> {
  return map(str({ max: 512 }), { max: 64, key: str({ min: 1, max: 128 }) });
}

/** An opaque JSON map (proxy `Config`): JSON values only, nested at most 16 deep. */
export function opaque(): Validator<Record<string, unknown>> {
  return (v, path, ctx) => {
    if (!isPlainObject(v)) return void ctx.problem(path, `expected a map, got ${typeName(v)}`);
    const bad = jsonProblem(v, 0);
    if (bad !== undefined) return void ctx.problem(path, bad);
    return structuredClone(v);
  };
}

function jsonProblem(v: unknown, depth: number): string | undefined {
  if (depth > 16) return 'nested deeper than 16 levels';
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : 'numbers must be finite';
  if (Array.isArray(v)) {
    for (const x of v) {
      const p = jsonProblem(x, depth + 1);
      if (p !== undefined) return p;
    }
    return undefined;
  }
  if (isPlainObject(v) && Object.getPrototypeOf(v) === Object.prototype) {
    for (const x of Object.values(v)) {
      const p = jsonProblem(x, depth + 1);
      if (p !== undefined) return p;
    }
    return undefined;
  }
  return 'must hold JSON values only';
}

/** Fields of an object: PascalCase name to validator. */
export type Fields = Readonly<Record<string, Validator>>;

/** Options of `obj`. */
export interface ObjOptions<T> {
  /** Fields that must be present (and valid). */
  required?: readonly string[];
  /** Accepted on input and dropped (e.g. CreateIndex from `consul config read` output). */
  ignored?: readonly string[];
  /**
   * Cross-field checks, run on the fields that passed their own checks; `failed` names the fields
   * that were present but refused, so a check can stay quiet about what is already reported.
   */
  check?: (o: T, path: string, ctx: Ctx, failed: ReadonlySet<string>) => void;
}

/**
 * An object with known fields. Keys match case-insensitively ignoring underscores; unknown keys
 * and a field given twice (`Protocol` and `protocol`) are refused; `null` counts as absent. The
 * result holds the fields that passed, in the order `fields` lists them.
 */
export function obj<T extends Record<string, unknown> = Record<string, unknown>>(fields: Fields, o: ObjOptions<T> = {}): Validator<T> {
  const lookup = new Map<string, string>();
  for (const f of Object.keys(fields)) lookup.set(canonicalKey(f), f);
  const ignored = new Set((o.ignored ?? []).map(canonicalKey));
  return (v, path, ctx) => {
    if (!isPlainObject(v)) return void ctx.problem(path, `expected an object, got ${typeName(v)}`);
    const given = new Map<string, string>();
    const parsed: Record<string, unknown> = {};
    const failed = new Set<string>();
    const before = ctx.problems.length;
    for (const [key, value] of Object.entries(v)) {
      const c = canonicalKey(key);
      if (ignored.has(c)) continue;
      const field = lookup.get(c);
      if (field === undefined) {
        ctx.problem(join(path, key), `unknown field${suggest(c, lookup)}`);
        continue;
      }
      const prior = given.get(field);
      if (prior !== undefined) {
        ctx.problem(join(path, field), `given twice (as ${JSON.stringify(prior)} and ${JSON.stringify(key)})`);
        failed.add(field);
        continue;
      }
      given.set(field, key);
      if (value === null || value === undefined) continue;
      const r = fields[field]!(value, join(path, field), ctx);
      if (r === undefined) failed.add(field);
      else parsed[field] = r;
    }
    for (const r of o.required ?? []) {
      if (parsed[r] === undefined && !failed.has(r)) ctx.problem(join(path, r), 'is required');
    }
    const out: Record<string, unknown> = {};
    for (const f of Object.keys(fields)) if (parsed[f] !== undefined && !failed.has(f)) out[f] = parsed[f];
    o.check?.(out as T, path, ctx, failed);
    return ctx.problems.length === before ? (out as T) : undefined;
  };
}

/** " (did you mean X?)" for a near miss: same canonical prefix or suffix of 4+ characters. */
function suggest(c: string, lookup: ReadonlyMap<string, string>): string {
  for (const [k, f] of lookup) {
    if (c.length >= 4 && (k.startsWith(c) || c.startsWith(k) || k.endsWith(c))) return ` (did you mean ${JSON.stringify(f)}?)`;
  }
  return '';
}

/** How a value is described in messages: its JSON type. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** Milliseconds of a stored (normalized) duration string. */
export function durationMs(s: unknown): number {
  return typeof s === 'string' ? (parseDurationMs(s) ?? 0) : 0;
}

/** True for a non-empty string. */
export function present(v: unknown): v is string {
  return typeof v === 'string' && v !== '';
}
