/**
 * Config entries (Consul's `service-defaults`, `proxy-defaults`, `service-resolver`,
 * `service-splitter`, `service-router`, `service-intentions`, `exported-services`, `mesh`): global,
 * accepted by any agent, replicated to every agent last-writer-wins on a hybrid logical clock.
 * Entries are kept in Consul's PascalCase JSON shape, validated and normalized.
 */
import type { Indexed } from '../catalog/types';

/** Entry kinds Shoal accepts. */
export const CONFIG_ENTRY_KINDS = [
  'service-defaults', 'proxy-defaults', 'service-resolver', 'service-splitter', 'service-router',
  'service-intentions', 'exported-services', 'mesh',
] as const;

export type ConfigEntryKind = (typeof CONFIG_ENTRY_KINDS)[number];

/** A validated entry in Consul's shape: `Kind`, `Name`, then the kind's fields. */
export interface ConfigEntry {
  Kind: ConfigEntryKind;
  Name: string;
  [field: string]: unknown;
}

/** An entry with the indexes Consul returns beside it. */
export interface StoredEntry {
  entry: ConfigEntry;
  createIndex: number;
  modifyIndex: number;
}

/** The replicated config entry store as the HTTP API and the data plane read and write it. */
export interface ConfigEntries extends Indexed {
  get(kind: string, name: string): StoredEntry | undefined;
  /** Every live (non-deleted) entry, optionally of one kind, sorted by kind then name. */
  list(kind?: string): StoredEntry[];
  /**
   * Validates and writes an entry (Consul's `PUT /v1/config` body). With `cas`, writes only if the
   * entry's current modifyIndex equals it (0: only if absent); returns false when the check fails.
   * Rejects with a ValidationError listing every problem.
   */
  put(entry: unknown, opts?: { cas?: number }): Promise<boolean>;
  /** Deletes (tombstones) an entry; with `cas` only if modifyIndex matches. False when the check fails or it is absent. */
  delete(kind: string, name: string, opts?: { cas?: number }): Promise<boolean>;
}
