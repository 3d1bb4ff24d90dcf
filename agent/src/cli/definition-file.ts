/**
 * Reads an operator's definition file (a service definition or a config entry) in HCL or JSON, from
 * a path or from standard input (`-`), into the JSON body the HTTP API takes.
 *
 * HCL blocks arrive from the parser as lists of objects (`check { ... }` is `check: [{...}]`), while
 * the API, like Consul's, takes one object there. Consul's CLI undoes this with the target struct's
 * schema; here a fixed set of keys that are always one object in Consul's service definitions and
 * config entries (`Check`, `Connect`, `SidecarService`, `Proxy`, `Config`, `Meta`, ...) has a
 * one-element list replaced by its element. Lists stay lists (`Checks`, `Upstreams`, `Sources`, ...).
 */
import { promises as fs } from 'node:fs';
import { parseHclText, parseJson } from '../config/sources';
import { CliError } from './api-client';
import type { CliIo } from './io';

/** Definition files are KBs; the API refuses bodies over 1 MiB anyway. */
export const MAX_DEFINITION_BYTES = 1024 * 1024;

/** Keys (compared lowercase without `_`) whose value is a single object, never a list. */
const OBJECT_KEYS: ReadonlySet<string> = new Set([
  'check', 'connect', 'sidecarservice', 'proxy', 'weights', 'taggedaddresses', 'lan', 'wan', 'lanipv4', 'wanipv4', 'lanipv6',
  'wanipv6', 'expose', 'meshgateway', 'transparentproxy', 'upstreamconfig', 'defaults', 'limits', 'passivehealthcheck',
  'destination', 'redirect', 'loadbalancer', 'ringhashconfig', 'leastrequestconfig', 'match', 'http', 'requestheaders',
  'responseheaders', 'set', 'add', 'tls', 'incoming', 'outgoing', 'peering', 'accesslogs', 'jwt', 'subsets', 'failover',
  'meta', 'config',
]);

/** Keys whose contents are the operator's own (free-form maps): unwrapped themselves, not walked into. */
const OPAQUE_KEYS: ReadonlySet<string> = new Set(['meta', 'config']);

const norm = (key: string): string => key.replace(/_/g, '').toLowerCase();

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Replaces one-element lists of objects by the object under OBJECT_KEYS, at every depth. */
export function unwrapHclBlocks(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapHclBlocks);
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(value)) {
    const k = norm(key);
    let v = raw;
    if (OBJECT_KEYS.has(k) && Array.isArray(v) && v.length === 1 && isObject(v[0])) v = v[0];
    out[key] = OPAQUE_KEYS.has(k) ? v : unwrapHclBlocks(v);
  }
  return out;
}

/** Reads and parses `path` ('-' for standard input); JSON when it ends in .json or starts with `{`, else HCL. */
export async function readDefinitionFile(path: string, io: CliIo): Promise<unknown> {
  const text = path === '-' ? await readStdin(io) : await readFileBounded(path);
  const name = path === '-' ? '<stdin>' : path;
  const json = path.toLowerCase().endsWith('.json') || (path === '-' && text.trimStart().startsWith('{'));
  const parsed = json ? parseJson(name, text) : await parseHclText(name, text);
  if ('problem' in parsed) throw new CliError(`${parsed.problem.source}: ${parsed.problem.message}`);
  return json ? parsed.raw : unwrapHclBlocks(parsed.raw);
}

async function readStdin(io: CliIo): Promise<string> {
  if (io.readStdin === undefined) throw new CliError('cannot read standard input here');
  try {
    return await io.readStdin(MAX_DEFINITION_BYTES);
  } catch (err) {
    throw new CliError(`cannot read standard input: ${(err as Error).message}`);
  }
}

async function readFileBounded(path: string): Promise<string> {
  try {
    const st = await fs.stat(path);
    if (!st.isFile()) throw new CliError(`${path}: not a regular file`);
    if (st.size > MAX_DEFINITION_BYTES) throw new CliError(`${path}: file is ${st.size} bytes; expected at most ${MAX_DEFINITION_BYTES}`);
    return await fs.readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof CliError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(`cannot read ${path}: ${code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
  }
}
