/** Public surface of the config entry store. */
export { CONFIG_ENTRY_KINDS, type ConfigEntries, type ConfigEntry, type ConfigEntryKind, type StoredEntry } from './types';
export {
  ConfigEntryStore, defaultConfigEntriesTuning, type ConfigEntriesTuning, type ConfigEntryStats, type ConfigEntryStoreOptions,
  type EntryDropReason, type EntryMembership,
} from './config-entry-store';
export { checkConfigEntry, isConfigEntryKind, KINDS, MAX_ENTRY_BYTES, validateConfigEntry } from './validate';
export { compareHlc, compareStamps, HybridClock, type Hlc, type Stamp } from './hlc';
export { CONFIG_ENTRIES_FILE, configEntriesPath, type LoadResult } from './entry-persistence';
export { parseFilterExpression, FilterSyntaxError, type FilterExpr } from './kinds/filter-expression';
export { intentionPrecedence } from './kinds/service-intentions';
