/**
 * Reads configuration files and directories into parsed documents. HCL goes through
 * @cdktf/hcl2json (HashiCorp's own HCL parser compiled to WASM), JSON through JSON.parse with the
 * error position turned into line and column. A file that fails to read or parse becomes a problem
 * and the others are still read, so every problem is reported in one run.
 */
import { promises as fs } from 'node:fs';
import { extname, join } from 'node:path';
import { parse as parseHcl } from '@cdktf/hcl2json';
import type { ConfigProblem } from './errors';
import { findJsonError, lineCol } from './json-position';

/** Config files are operator input: bounded like everything else (Consul's are kilobytes). */
export const MAX_CONFIG_FILE_BYTES = 4 * 1024 * 1024;

/** A `-config-file` or `-config-dir` argument, in command-line order. */
export interface ConfigPath {
  kind: 'file' | 'dir';
  path: string;
}

/** One parsed file. */
export interface ParsedDocument {
  source: string;
  raw: unknown;
}

/** Reads every path in order (directories expand to their *.hcl and *.json files, lexical order). */
export async function readConfigPaths(paths: readonly ConfigPath[]): Promise<{ docs: ParsedDocument[]; problems: ConfigProblem[] }> {
  const docs: ParsedDocument[] = [];
  const problems: ConfigProblem[] = [];
  for (const p of paths) {
    const files = p.kind === 'dir' ? await listConfigDir(p.path, problems) : [p.path];
    for (const file of files) {
      const doc = await readConfigFile(file, problems);
      if (doc !== undefined) docs.push(doc);
    }
  }
  return { docs, problems };
}

/** The *.hcl and *.json regular files of a directory, sorted by name (byte order, like Consul). */
async function listConfigDir(dir: string, problems: ConfigProblem[]): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    problems.push({ source: dir, field: '', message: `cannot read config directory: ${errnoText(err)}` });
    return [];
  }
  const files: string[] = [];
  for (const name of names.sort()) {
    const ext = extname(name).toLowerCase();
    if (ext !== '.hcl' && ext !== '.json') continue;
    const full = join(dir, name);
    const st = await fs.stat(full).catch(() => undefined);
    if (st?.isFile() === true) files.push(full);
  }
  return files;
}

async function readConfigFile(file: string, problems: ConfigProblem[]): Promise<ParsedDocument | undefined> {
  let text: string;
  try {
    const st = await fs.stat(file);
    if (!st.isFile()) {
      problems.push({ source: file, field: '', message: 'expected a regular file (use -config-dir for directories)' });
      return undefined;
    }
    if (st.size > MAX_CONFIG_FILE_BYTES) {
      problems.push({ source: file, field: '', message: `file is ${st.size} bytes; expected at most ${MAX_CONFIG_FILE_BYTES}` });
      return undefined;
    }
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    problems.push({ source: file, field: '', message: `cannot read config file: ${errnoText(err)}` });
    return undefined;
  }
  const parsed = extname(file).toLowerCase() === '.json' ? parseJson(file, text) : await parseHclText(file, text);
  if ('problem' in parsed) {
    problems.push(parsed.problem);
    return undefined;
  }
  return { source: file, raw: parsed.raw };
}

/** Parses HCL text; on a syntax error the problem keeps the parser's `file:line,col` position. */
export async function parseHclText(file: string, text: string): Promise<{ raw: unknown } | { problem: ConfigProblem }> {
  try {
    return { raw: await parseHcl(file, text) };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // hcl2json reports "parse config: [file:3,9-4,1: Summary; Detail.]"; keep position and text.
    const m = /\[(.+?):(\d+),(\d+)(?:-[\d,]+)?: ([\s\S]*?)\]?$/.exec(msg);
    if (m !== null) {
      return { problem: { source: `${m[1]}:${m[2]},${m[3]}`, field: '', message: `HCL syntax error: ${m[4]!.trim()}` } };
    }
    return { problem: { source: file, field: '', message: `HCL syntax error: ${msg}` } };
  }
}

/** Parses JSON text; on a syntax error the problem names `file:line,col` and what was expected. */
export function parseJson(file: string, text: string): { raw: unknown } | { problem: ConfigProblem } {
  try {
    return { raw: JSON.parse(text) as unknown };
  } catch {
    const at = findJsonError(text) ?? { offset: text.length, reason: 'invalid JSON' };
    return { problem: { source: `${file}:${lineCol(text, at.offset)}`, field: '', message: `JSON syntax error: ${at.reason}` } };
  }
}

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT') return 'no such file or directory';
  if (e.code === 'EACCES') return 'permission denied';
  return e.message ?? String(err);
}
