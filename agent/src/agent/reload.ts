/**
 * What `reload` (SIGHUP, `PUT /v1/agent/reload`) may change without a restart. Each reloadable
 * setting is one row; later features (services, checks) add rows here. Everything else that changed
 * is reported as needing a restart.
 */
import type { Logger as PinoLogger } from 'pino';
import type { AgentConfig } from '../config';
import type { ServiceLayer } from './service-layer';

/** What a reloader can act on. */
export interface ReloadContext {
  logger: PinoLogger;
  services?: ServiceLayer;
}

/** One setting that can change at run time. */
export interface Reloader {
  /** The config key as operators write it. */
  key: string;
  field: keyof AgentConfig;
  apply(ctx: ReloadContext, next: AgentConfig): void;
}

/** The settings reload applies. */
export const RELOADERS: readonly Reloader[] = [
  {
    // First: an invalid service file refuses the whole reload before anything else changes.
    key: 'services',
    field: 'serviceDefinitions',
    apply: (ctx, next) => {
      ctx.services?.reload(next.serviceDefinitions);
    },
  },
  {
    key: 'log_level',
    field: 'logLevel',
    apply: (ctx, next) => {
      ctx.logger.level = next.logLevel;
    },
  },
];

/** Fields that are not settings (informational) and never need a restart. */
const IGNORED: ReadonlySet<keyof AgentConfig> = new Set(['sources']);

/** Operator-facing key of a config field: `retryIntervalMs` -> `retry_interval`. */
export function configKey(field: string): string {
  return field.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Keys that differ between two configurations, split into reloadable ones and the rest. */
export function diffConfig(prev: AgentConfig, next: AgentConfig): { changed: string[]; restartRequired: string[] } {
  const changed: string[] = [];
  const restartRequired: string[] = [];
  for (const field of Object.keys(next) as (keyof AgentConfig)[]) {
    if (IGNORED.has(field) || JSON.stringify(prev[field]) === JSON.stringify(next[field])) continue;
    const row = RELOADERS.find((r) => r.field === field);
    if (row !== undefined) changed.push(row.key);
    else restartRequired.push(configKey(field));
  }
  // Apply in table order, so a refused service reload happens before anything else changed.
  changed.sort((a, b) => RELOADERS.findIndex((r) => r.key === a) - RELOADERS.findIndex((r) => r.key === b));
  return { changed, restartRequired };
}
