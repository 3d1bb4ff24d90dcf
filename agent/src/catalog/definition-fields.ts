/**
 * Reading operator- and client-written definitions field by field, collecting every problem with the
 * field's dotted path as the author wrote it. One reader serves the three spellings Consul accepts:
 * HCL (snake_case, where every block arrives as a list of objects), JSON (snake_case, blocks as
 * objects) and API bodies (PascalCase, or camelCase from some clients). Keys are matched by their
 * snake_case form (`EnableTagOverride`, `enableTagOverride` and `enable_tag_override` are one field);
 * the contents of free-form maps (`meta`, `header`, `config`) are user data and never rewritten.
 */
import type { ValidationProblem } from './types';
import { parseDurationMs } from '../config';

/** Collects problems for one source (a file path or `request body`). */
export class Problems {
  readonly list: ValidationProblem[] = [];

  constructor(readonly source: string) {}

  add(field: string, message: string): void {
    this.list.push({ source: this.source, field, message });
  }
}

/** A value and the path it was found at. */
export interface Located {
  value: unknown;
  path: string;
}

/** `EnableTagOverride` / `enableTagOverride` / `enable_tag_override` -> `enable_tag_override`; `GRPCUseTLS` -> `grpc_use_tls`. */
export function canonicalKey(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase();
}

/** `parent.key`, or `key` at the top. */
export function joinPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

/** True for a plain object (not null, not a list). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short rendering of a found value for messages, bounded so a huge value cannot flood them. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a block';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * The fields of one object, by canonical name. Reading a field that is absent gives the fallback;
 * reading one of the wrong type records a problem and gives the fallback, so parsing goes on and
 * every problem is found in one pass.
 */
export class Fields {
  /** Fields whose value was refused, so dependent rules can stay quiet instead of piling on. */
  private readonly refused = new Set<string>();

  private constructor(
    private readonly p: Problems,
    private readonly entries: ReadonlyMap<string, Located>,
  ) {}

  /** True when the field is present and its value was refused. */
  wasRefused(name: string): boolean {
    return this.refused.has(name);
  }

  /**
   * Reads `at.value` as an object with the `known` fields (snake_case) and `aliases` (other
   * canonical names for them, e.g. `check_id` for `id`). Unknown and repeated fields are problems.
   * An HCL block (a list holding one object) is unwrapped. Undefined when it is not an object.
   */
  static of(p: Problems, at: Located, known: readonly string[], aliases: Readonly<Record<string, string>> = {}): Fields | undefined {
    const obj = singleBlock(p, at);
    if (obj === undefined) return undefined;
    const entries = new Map<string, Located>();
    for (const [key, value] of Object.entries(obj)) {
      const path = joinPath(at.path, key);
      const c = canonicalKey(key);
      const name = known.includes(c) ? c : aliases[c];
      if (name === undefined) {
        p.add(path, 'unknown field');
        continue;
      }
      const prev = entries.get(name);
      if (prev !== undefined) {
        p.add(path, `given twice (also as ${prev.path})`);
        continue;
      }
      entries.set(name, { value, path });
    }
    return new Fields(p, entries);
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  get(name: string): Located | undefined {
    return this.entries.get(name);
  }

  /** The path of a field as written, or `fallback` when absent. */
  path(name: string, fallback: string): string {
    return this.entries.get(name)?.path ?? fallback;
  }

  /** Names of the present fields among `names`. */
  present(names: readonly string[]): string[] {
    return names.filter((n) => this.entries.has(n));
  }

  string(name: string, fallback = ''): string {
    const f = this.entries.get(name);
    if (f === undefined) return fallback;
    if (typeof f.value === 'string') return f.value;
    this.refuse(name, f.path, `expected a string, got ${describe(f.value)}`);
    return fallback;
  }

  bool(name: string, fallback = false): boolean {
    const f = this.entries.get(name);
    if (f === undefined) return fallback;
    if (typeof f.value === 'boolean') return f.value;
    this.refuse(name, f.path, `expected true or false, got ${describe(f.value)}`);
    return fallback;
  }

  int(name: string, min: number, max: number, fallback: number): number {
    const f = this.entries.get(name);
    if (f === undefined) return fallback;
    if (typeof f.value === 'number' && Number.isInteger(f.value) && f.value >= min && f.value <= max) return f.value;
    this.refuse(name, f.path, `expected an integer from ${min} to ${max}, got ${describe(f.value)}`);
    return fallback;
  }

  /** A duration ("10s", "1m30s", or milliseconds); `text` is what to display. */
  duration(name: string): { ms: number; text: string } | undefined {
    const f = this.entries.get(name);
    if (f === undefined) return undefined;
    const ms = parseDurationMs(f.value);
    if (ms === undefined) {
      this.refuse(name, f.path, `expected a duration such as "10s" or "1m30s", got ${describe(f.value)}`);
      return undefined;
    }
    return { ms, text: typeof f.value === 'string' ? f.value.trim() : `${f.value}ms` };
  }

  /** A list of strings, at most `max` of them. */
  stringList(name: string, max: number): string[] {
    const f = this.entries.get(name);
    if (f === undefined) return [];
    if (!Array.isArray(f.value)) {
      this.p.add(f.path, `expected a list of strings, got ${describe(f.value)}`);
      return [];
    }
    if (f.value.length > max) {
      this.p.add(f.path, `expected at most ${max} entries, got ${f.value.length}`);
      return [];
    }
    const out: string[] = [];
    f.value.forEach((v, i) => {
      if (typeof v === 'string') out.push(v);
      else this.p.add(`${f.path}[${i}]`, `expected a string, got ${describe(v)}`);
    });
    return out;
  }

  /** A free-form object (`config`): JSON values nested at most `maxDepth` deep, kept as written. */
  freeform(name: string, maxDepth: number): Record<string, unknown> {
    const f = this.entries.get(name);
    if (f === undefined) return {};
    const obj = singleBlock(this.p, f);
    if (obj === undefined) return {};
    const bad = jsonProblem(obj, 0, maxDepth, f.path);
    if (bad !== undefined) {
      this.p.add(bad.path, bad.message);
      return {};
    }
    return { ...obj };
  }

  private refuse(name: string, path: string, message: string): void {
    this.refused.add(name);
    this.p.add(path, message);
  }

  /** A nested block (an object, or an HCL block: a list of one object). */
  block(name: string, known: readonly string[], aliases?: Readonly<Record<string, string>>): Fields | undefined {
    const f = this.entries.get(name);
    return f === undefined ? undefined : Fields.of(this.p, f, known, aliases);
  }

  /** A list of objects (a JSON list, or repeated HCL blocks), each with its indexed path. */
  objects(name: string): Located[] {
    const f = this.entries.get(name);
    if (f === undefined) return [];
    if (!Array.isArray(f.value)) {
      this.p.add(f.path, `expected a list of blocks, got ${describe(f.value)}`);
      return [];
    }
    return f.value.map((value, i) => ({ value, path: `${f.path}[${i}]` }));
  }
}

/** The first value in `v` that is not JSON-like or nests deeper than `maxDepth`. */
function jsonProblem(v: unknown, depth: number, maxDepth: number, path: string): { path: string; message: string } | undefined {
  if (depth > maxDepth) return { path, message: `nested deeper than ${maxDepth} levels` };
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : { path, message: 'expected a finite number' };
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const bad = jsonProblem(v[i], depth + 1, maxDepth, `${path}[${i}]`);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  if (isPlainObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      const bad = jsonProblem(x, depth + 1, maxDepth, `${path}.${k}`);
      if (bad !== undefined) return bad;
    }
    return undefined;
  }
  return { path, message: `expected JSON values only, got ${describe(v)}` };
}

/** The object of `at`, unwrapping an HCL single block; records a problem otherwise. */
function singleBlock(p: Problems, at: Located): Record<string, unknown> | undefined {
  const v = at.value;
  if (isPlainObject(v)) return v;
  if (Array.isArray(v) && v.length === 1 && isPlainObject(v[0])) return v[0];
  if (Array.isArray(v) && v.length > 1 && v.every(isPlainObject)) {
    p.add(at.path, `expected one block, got ${v.length}`);
    return undefined;
  }
  p.add(at.path, `expected a block, got ${describe(v)}`);
  return undefined;
}
