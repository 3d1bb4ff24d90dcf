/**
 * Turns one parsed document (an HCL or JSON file, or the command-line flags) into a layer: a flat map
 * from dotted key path (`ports.http`) to a type-checked value and where it came from. Layers merge in
 * order: later scalars win; lists are appended (Consul's rule, so `retry_join` from two files and the
 * command line adds up).
 */
import { parseDurationMs } from './duration';
import type { ConfigProblem } from './errors';
import { expectedOf, type FieldSpec, type Schema } from './schema';

/** One setting: its checked value (durations in ms, lists as string[]) and its origin. */
export interface Setting {
  readonly value: unknown;
  /** File path, `command line`, `dev mode`. */
  readonly source: string;
  /** How to name the field in problems: the key path, or the flag for the command line. */
  readonly label: string;
}

/** Checked settings by dotted key path. */
export type Layer = Map<string, Setting>;

/** Where a document came from and how its fields are named in problems. */
export interface LayerOrigin {
  source: string;
  /** Maps a key path to the name shown in problems (flags show as `-http-port`). */
  label?: (path: string) => string;
  /** Accept numbers and durations written as digit strings (command-line flags are all strings). */
  coerceStrings?: boolean;
}

/** What one document yields: checked settings, problems, and its passthrough keys' values as written. */
export interface LayerResult {
  layer: Layer;
  problems: ConfigProblem[];
  /** Top-level passthrough keys (`service`, `checks`, ...) to their unchecked values; empty when none. */
  passthrough: Record<string, unknown>;
}

/** Reads `raw` against `schema`, returning every value that checked out and a problem for each that did not. */
export function readLayer(raw: unknown, schema: Schema, origin: LayerOrigin): LayerResult {
  const layer: Layer = new Map();
  const problems: ConfigProblem[] = [];
  const passthrough: Record<string, unknown> = {};
  const label = origin.label ?? ((p: string) => p);
  const problem = (path: string, message: string): void => {
    problems.push({ source: origin.source, field: label(path), message });
  };
  if (!isPlainObject(raw)) {
    problems.push({ source: origin.source, field: '', message: 'expected an object of settings at the top level' });
    return { layer, problems, passthrough };
  }
  walk(raw, schema, '', { layer, passthrough }, problem, origin, label);
  return { layer, problems, passthrough };
}

function walk(
  obj: Record<string, unknown>,
  schema: Schema,
  prefix: string,
  out: { layer: Layer; passthrough: Record<string, unknown> },
  problem: (path: string, message: string) => void,
  origin: LayerOrigin,
  label: (path: string) => string,
): void {
  for (const [key, value] of Object.entries(obj)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const spec = schema[key];
    if (spec === undefined) {
      const hint = closest(key, Object.keys(schema));
      problem(path, hint === undefined ? 'unknown key' : `unknown key (did you mean "${hint}"?)`);
      continue;
    }
    if (spec.kind === 'block') {
      const blocks = blockObjects(value);
      if (blocks === undefined) problem(path, expectedOf(spec));
      else for (const b of blocks) walk(b, spec.fields, path, out, problem, origin, label);
      continue;
    }
    if (spec.kind === 'passthrough') {
      out.passthrough[path] = value;
      continue;
    }
    const checked = checkValue(spec, value, origin.coerceStrings === true);
    if ('error' in checked) problem(path, checked.error);
    else out.layer.set(path, { value: checked.value, source: origin.source, label: label(path) });
  }
}

/** HCL blocks arrive as arrays of objects (`ports { }` twice gives two); JSON writes one object. */
function blockObjects(value: unknown): Record<string, unknown>[] | undefined {
  if (isPlainObject(value)) return [value];
  if (Array.isArray(value) && value.every(isPlainObject)) return value;
  return undefined;
}

function checkValue(spec: FieldSpec, value: unknown, coerce: boolean): { value: unknown } | { error: string } {
  const got = spec.kind === 'string' && spec.secret === true && typeof value === 'string' ? `a value of ${value.length} characters` : describe(value);
  switch (spec.kind) {
    case 'string': {
      if (typeof value !== 'string') return { error: `${expectedOf(spec)}, got ${got}` };
      const bad = spec.check?.(value);
      return bad === undefined ? { value } : { error: `${bad}, got ${got}` };
    }
    case 'bool':
      return typeof value === 'boolean' ? { value } : { error: `${expectedOf(spec)}, got ${got}` };
    case 'int': {
      const n = coerce && typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
      return typeof n === 'number' && Number.isInteger(n) && n >= spec.min && n <= spec.max
        ? { value: n }
        : { error: `${expectedOf(spec)}, got ${got}` };
    }
    case 'duration': {
      const v = coerce && typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
      const ms = parseDurationMs(v);
      return ms === undefined ? { error: `${expectedOf(spec)}, got ${got}` } : { value: ms };
    }
    case 'enum': {
      const s = typeof value === 'string' ? value.toLowerCase() : undefined;
      return s !== undefined && spec.values.includes(s) ? { value: s } : { error: `${expectedOf(spec)}, got ${got}` };
    }
    case 'list': {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return { error: `${expectedOf(spec)}, got ${got}` };
      const bad = value.map((v) => ({ v, why: spec.check?.(v) })).filter((x) => x.why !== undefined);
      if (bad.length > 0) return { error: bad.map((b) => `${b.why}, got ${JSON.stringify(b.v)}`).join('; ') };
      return { value: [...value] };
    }
    case 'block':
    case 'passthrough':
      return { error: expectedOf(spec) };
  }
}

/** Merges layers in order: later scalars replace earlier ones, lists are appended without duplicates. */
export function mergeLayers(layers: readonly Layer[]): Layer {
  const out: Layer = new Map();
  for (const layer of layers) {
    for (const [path, setting] of layer) {
      const prev = out.get(path);
      if (prev !== undefined && Array.isArray(prev.value) && Array.isArray(setting.value)) {
        const merged = [...prev.value];
        for (const v of setting.value) if (!merged.includes(v)) merged.push(v);
        out.set(path, { ...setting, value: merged });
      } else {
        out.set(path, setting);
      }
    }
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short rendering of what was found, bounded so a huge value does not flood the error. */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a block';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** The known key nearest to a misspelt one (edit distance at most 2, or a third of its length). */
function closest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
