/**
 * Cluster-wide keyring operations, as serf does them: the agent that receives the API call sends a
 * query (`keyring-install`, `keyring-use`, `keyring-remove`, `keyring-list`) to every live member of
 * a pool; every agent answers by applying the change to its own keyring and persisting it. The
 * caller learns how many members were asked, which answered, and what failed where.
 *
 * Payloads are small JSON documents; they travel inside gossip, which is encrypted whenever a
 * keyring exists (and these operations require one).
 */
import { createHash } from 'node:crypto';
import type { Logger } from '../core/logger';
import { Keyring } from '../gossip/keyring';
import type { Memberlist } from '../gossip/memberlist';
import type { KeyringOperation, KeyringReport } from '../http';
import { AgentError, AgentErrorCode } from './errors';
import type { KeyringStore } from './keyring-store';

/** Query names, one per operation. */
export const KEYRING_QUERY = {
  install: 'keyring-install',
  use: 'keyring-use',
  remove: 'keyring-remove',
  list: 'keyring-list',
} as const;

/** serf's query timeout multiplier: timeout = gossipInterval x 16 x ceil(log10(N + 1)). */
const QUERY_TIMEOUT_MULT = 16;
/** Answers from peers are tiny; anything larger is not an answer of ours. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** What a member answers. */
interface Answer {
  error?: string;
  keys?: string[];
}

/** Options of ClusterKeyring. */
export interface ClusterKeyringOptions {
  pool: Memberlist;
  store: KeyringStore;
  wan: boolean;
  datacenter: string;
  /** The pool's gossip interval, for the query timeout. */
  gossipIntervalMs: number;
  logger: Logger;
}

/** Keyring operations across one pool. */
export class ClusterKeyring {
  constructor(private readonly o: ClusterKeyringOptions) {}

  /** Installs the query handlers; every agent does this for every pool it is in. */
  register(): void {
    this.o.pool.onQuery(KEYRING_QUERY.list, () => encode(this.localList()));
    for (const op of ['install', 'use', 'remove'] as const) {
      this.o.pool.onQuery(KEYRING_QUERY[op], (payload, from) => this.answer(op, payload, from).then(encode));
    }
  }

  /** Asks every member for its keys. */
  async list(): Promise<KeyringReport> {
    this.requireKeyring();
    return this.ask(KEYRING_QUERY.list, {}, true);
  }

  /** Applies an operation on every member. Checks locally first what would fail everywhere. */
  async apply(op: KeyringOperation, keyB64: string): Promise<KeyringReport> {
    const ring = this.requireKeyring();
    let key: Buffer;
    try {
      key = Keyring.parseKey(keyB64, 'Key');
    } catch (err) {
      throw new AgentError(AgentErrorCode.keyringKey, (err as Error).message, 400);
    }
    const pool = this.o.wan ? 'WAN' : `${this.o.datacenter} (LAN)`;
    if (op === 'use' && !ring.has(key)) {
      throw new AgentError(AgentErrorCode.keyringKey, `Key: cannot use a key that is not installed in the ${pool} pool; install it first`, 400);
    }
    if (op === 'remove' && ring.primary().equals(key)) {
      throw new AgentError(AgentErrorCode.keyringKey, `Key: cannot remove the primary key of the ${pool} pool; use another key first`, 400);
    }
    this.o.logger.info({ op, pool: this.poolName, keyId: keyId(key) }, 'keyring operation started');
    return this.ask(KEYRING_QUERY[op], { key: keyB64 }, false);
  }

  private get poolName(): string {
    return this.o.wan ? 'wan' : 'lan';
  }

  private requireKeyring(): Keyring {
    const ring = this.o.pool.keyring;
    if (ring === null) {
      throw new AgentError(AgentErrorCode.keyringDisabled, 'gossip encryption is not enabled (start agents with encrypt set to use a keyring)', 400);
    }
    return ring;
  }

  /** Sends one query and tallies the answers, naming members that failed or did not answer. */
  private async ask(name: string, body: object, tallyKeys: boolean): Promise<KeyringReport> {
    const asked = new Set(this.o.pool.members().filter((m) => m.state === 'alive' || m.state === 'suspect').map((m) => m.name));
    const n = Math.max(1, asked.size);
    const timeoutMs = this.o.gossipIntervalMs * QUERY_TIMEOUT_MULT * Math.ceil(Math.log10(n + 1));
    const responses = await this.o.pool.query(name, encode(body), { timeoutMs });
    const report: KeyringReport = {
      wan: this.o.wan, datacenter: this.o.wan ? '' : this.o.datacenter,
      keys: {}, primaryKeys: {}, numNodes: 0, numResponses: responses.length, numErrors: 0, messages: {},
    };
    const answered = new Set<string>();
    for (const r of responses) {
      answered.add(r.node);
      const a = decode(r.payload);
      if (a.error !== undefined) {
        report.messages[r.node] = String(a.error).slice(0, 300);
        report.numErrors++;
        continue;
      }
      if (!tallyKeys) continue;
      // A peer's answer is input: keep only strings, a bounded number of them.
      const keys = Array.isArray(a.keys) ? a.keys.filter((k): k is string => typeof k === 'string').slice(0, 64) : [];
      for (const k of keys) report.keys[k] = (report.keys[k] ?? 0) + 1;
      if (keys[0] !== undefined) report.primaryKeys[keys[0]] = (report.primaryKeys[keys[0]] ?? 0) + 1;
    }
    for (const node of asked) {
      if (!answered.has(node)) {
        report.messages[node] = `no answer within ${timeoutMs} ms`;
        report.numErrors++;
      }
    }
    report.numNodes = new Set([...asked, ...answered]).size;
    return report;
  }

  private localList(): Answer {
    const ring = this.o.pool.keyring;
    return ring === null ? { error: 'gossip encryption is not enabled on this member' } : { keys: ring.list() };
  }

  /** Applies one operation locally and persists it; failures become the answer, never a throw. */
  private async answer(op: KeyringOperation, payload: Uint8Array, from: string): Promise<Answer> {
    const ring = this.o.pool.keyring;
    if (ring === null) return { error: 'gossip encryption is not enabled on this member' };
    let key: Buffer;
    try {
      const b64 = decode(payload) as { key?: unknown };
      key = Keyring.parseKey(typeof b64.key === 'string' ? b64.key : '', 'key');
      if (op === 'install') ring.install(key);
      else if (op === 'use') ring.use(key);
      else ring.remove(key);
    } catch (err) {
      return { error: (err as Error).message };
    }
    try {
      await this.o.store.save(ring);
    } catch (err) {
      this.o.logger.error({ op, pool: this.poolName, file: this.o.store.path, err: (err as Error).message }, 'keyring changed but could not be persisted');
      return { error: `applied, but the keyring file could not be written: ${(err as Error).message}` };
    }
    this.o.logger.info({ op, pool: this.poolName, from, keyId: keyId(key), installed: ring.list().length }, 'keyring changed');
    return {};
  }
}

/** A short, non-reversible identifier of a key for logs (never the key itself). */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

function encode(v: object): Uint8Array {
  return Buffer.from(JSON.stringify(v), 'utf8');
}

function decode(payload: Uint8Array): Answer & Record<string, unknown> {
  if (payload.length > MAX_ANSWER_BYTES) return { error: 'answer too large' };
  try {
    const v = JSON.parse(Buffer.from(payload).toString('utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Answer & Record<string, unknown>) : { error: 'malformed answer' };
  } catch {
    return { error: 'malformed answer' };
  }
}
