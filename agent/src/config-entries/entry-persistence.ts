/**
 * The config entry store on disk: `<data_dir>/config-entries.json`, written atomically (temporary
 * file, fsync, rename, directory fsync; mode 0600) after every change, tombstones included, with the
 * store's index and hybrid clock so a restarted agent neither reuses indexes nor stamps a write
 * earlier than one it already made.
 *
 * A file that does not parse is moved aside as `config-entries.json.corrupt-<wall ms>` and reported;
 * the agent then starts empty and gets the entries back from its peers by anti-entropy. Single
 * records that fail validation (written by a newer version with other rules, or edited by hand) are
 * skipped with a warning; peers hold them too.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../agent/atomic-file';
import type { Logger } from '../core/logger';
import type { Hlc } from './hlc';
import type { ConfigRecord } from './entry-record';
import { isConfigEntryKind, checkConfigEntry } from './validate';

/** The file name inside the data directory. */
export const CONFIG_ENTRIES_FILE = 'config-entries.json';

/** Format version written in the file. */
const FORMAT = 1;

/** A file larger than this is not read (it cannot be ours): 512 MiB. */
const MAX_FILE_BYTES = 512 * 1024 * 1024;

/** What the file holds. */
export interface PersistedEntries {
  index: number;
  hlc: Hlc;
  records: ConfigRecord[];
}

/** What loading found. */
export interface LoadResult {
  /** Undefined when there was no file (or it was corrupt). */
  state: PersistedEntries | undefined;
  /** Where a corrupt file was moved, when it was. */
  corruptMovedTo?: string;
  /** Records skipped because they failed validation. */
  skippedRecords: number;
}

/** Path of the store file in `dataDir`. */
export function configEntriesPath(dataDir: string): string {
  return join(dataDir, CONFIG_ENTRIES_FILE);
}

/** Serializes the store (PascalCase records, as Consul shows entries). */
export function serializeEntries(s: PersistedEntries): string {
  return JSON.stringify({
    Format: FORMAT,
    Index: s.index,
    Hlc: { WallMs: s.hlc.wallMs, Counter: s.hlc.counter },
    Records: s.records.map((r) => ({
      Kind: r.kind, Name: r.name, Entry: r.entry ?? null, WallMs: r.hlc.wallMs, Counter: r.hlc.counter, Node: r.node,
      CreateIndex: r.createIndex, ModifyIndex: r.modifyIndex,
    })),
  });
}

/** Writes the store atomically with mode 0600. */
export async function saveEntries(path: string, s: PersistedEntries): Promise<void> {
  await writeFileAtomic(path, serializeEntries(s), 0o600);
}

/** Reads the store; a corrupt file is moved aside and reported, never thrown. */
export async function loadEntries(path: string, wallNow: () => number, log: Logger): Promise<LoadResult> {
  let text: string;
  try {
    const st = await fs.stat(path);
    if (st.size > MAX_FILE_BYTES) throw new Error(`file of ${st.size} bytes exceeds ${MAX_FILE_BYTES}`);
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: undefined, skippedRecords: 0 };
    return moveAside(path, (err as Error).message, wallNow, log);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return moveAside(path, `not JSON: ${(err as Error).message}`, wallNow, log);
  }
  const top = shapeOf(doc);
  if (typeof top === 'string') return moveAside(path, top, wallNow, log);
  const records: ConfigRecord[] = [];
  let skipped = 0;
  top.records.forEach((raw, i) => {
    const r = recordOf(raw, path);
    if (typeof r === 'string') {
      skipped++;
      log.warn({ path, record: i, problem: r }, 'skipping an invalid record in the config entry store; peers will supply it');
    } else {
      records.push(r);
    }
  });
  return { state: { index: top.index, hlc: top.hlc, records }, skippedRecords: skipped };
}

async function moveAside(path: string, problem: string, wallNow: () => number, log: Logger): Promise<LoadResult> {
  const to = `${path}.corrupt-${Math.floor(wallNow())}`;
  try {
    await fs.rename(path, to);
    log.error({ path, movedTo: to, problem }, 'the config entry store is corrupt; moved it aside and will recover the entries from peers');
    return { state: undefined, corruptMovedTo: to, skippedRecords: 0 };
  } catch (err) {
    log.error({ path, problem, err: (err as Error).message }, 'the config entry store is corrupt and could not be moved aside; starting empty');
    return { state: undefined, skippedRecords: 0 };
  }
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNat(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function shapeOf(doc: unknown): { index: number; hlc: Hlc; records: unknown[] } | string {
  if (!isObj(doc)) return 'expected a JSON object';
  if (doc['Format'] !== FORMAT) return `unknown format ${JSON.stringify(doc['Format'])} (expected ${FORMAT})`;
  const hlc = doc['Hlc'];
  if (!isNat(doc['Index']) || !isObj(hlc) || !isNat(hlc['WallMs']) || !isNat(hlc['Counter']) || !Array.isArray(doc['Records'])) {
    return 'expected Index, Hlc {WallMs, Counter} and Records';
  }
  return { index: doc['Index'], hlc: { wallMs: hlc['WallMs'], counter: hlc['Counter'] }, records: doc['Records'] };
}

function recordOf(raw: unknown, path: string): ConfigRecord | string {
  if (!isObj(raw)) return 'expected an object';
  const { Kind, Name, Entry, WallMs, Counter, Node, CreateIndex, ModifyIndex } = raw;
  if (!isConfigEntryKind(Kind)) return `unknown Kind ${JSON.stringify(Kind)}`;
  if (typeof Name !== 'string' || Name === '' || typeof Node !== 'string' || Node === '') return 'expected Name and Node';
  if (!isNat(WallMs) || !isNat(Counter) || !isNat(CreateIndex) || !isNat(ModifyIndex)) return 'expected WallMs, Counter, CreateIndex and ModifyIndex';
  let entry;
  if (Entry !== null) {
    const r = checkConfigEntry(Entry, path);
    if (r.entry === undefined) return r.problems.map((p) => `${p.field}: ${p.message}`).join('; ');
    if (r.entry.Kind !== Kind || r.entry.Name !== Name) return `the entry is not ${Kind}/${Name}`;
    entry = r.entry;
  }
  return { kind: Kind, name: Name, entry, hlc: { wallMs: WallMs, counter: Counter }, node: Node, createIndex: CreateIndex, modifyIndex: ModifyIndex };
}
