/**
 * The data-plane settings Shoal reads from a proxy's or an upstream's free-form `config` map (Consul's
 * key names). The map stays free-form (other keys are kept, for other tools), but a known key with a
 * value the proxy could not use is a problem, so a typo is refused with the file and field rather than
 * silently replaced by the default.
 */
import { DURATION_EXPECTED, parseDurationMs } from '../config';
import { describe, joinPath, type Problems } from './definition-fields';

type Rule = (v: unknown) => string | undefined;

/** Whole milliseconds in [min, max], as a number or a numeric string. */
function millis(min: number, max: number): Rule {
  return (v) => {
    const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
    return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max ? undefined : `expected whole milliseconds from ${min} to ${max}, got ${describe(v)}`;
  };
}

function integer(min: number, max: number): Rule {
  return (v) => (typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : `expected an integer from ${min} to ${max}, got ${describe(v)}`);
}

function duration(minMs: number): Rule {
  return (v) => {
    const ms = parseDurationMs(v);
    return ms !== undefined && ms >= minMs ? undefined : `${DURATION_EXPECTED}, at least ${minMs} ms; got ${describe(v)}`;
  };
}

const HOUR_MS = 3_600_000;

/** Keys of a sidecar's `proxy.config`. */
const SIDECAR_RULES: Record<string, Rule> = {
  local_connect_timeout_ms: millis(1, 600_000),
  local_idle_timeout_ms: millis(1, 24 * HOUR_MS),
};

/** Keys of an upstream's `config`. */
const UPSTREAM_RULES: Record<string, Rule> = {
  connect_timeout_ms: millis(1, 600_000),
  idle_timeout_ms: millis(1, 24 * HOUR_MS),
  max_attempts: integer(1, 10),
};

/** Fields of `passive_health_check` in an upstream's `config`. */
const PASSIVE_RULES: Record<string, Rule> = {
  max_failures: integer(1, 1000),
  base_ejection_time: duration(1),
  max_ejection_percent: integer(0, 100),
  interval: duration(0),
};

/** HCL delivers a nested block as a list of one object; JSON as the object. */
export function nestedObject(v: unknown): Record<string, unknown> | undefined {
  const one = Array.isArray(v) && v.length === 1 ? v[0] : v;
  return one !== null && typeof one === 'object' && !Array.isArray(one) ? (one as Record<string, unknown>) : undefined;
}

function check(p: Problems, at: string, config: Readonly<Record<string, unknown>>, rules: Record<string, Rule>): void {
  for (const [key, rule] of Object.entries(rules)) {
    if (config[key] === undefined) continue;
    const problem = rule(config[key]);
    if (problem !== undefined) p.add(joinPath(at, key), problem);
  }
}

/** Checks the known keys of a sidecar's `proxy.config` (`at` is the config's path). */
export function checkSidecarProxyConfig(p: Problems, at: string, config: Readonly<Record<string, unknown>>): void {
  check(p, at, config, SIDECAR_RULES);
}

/** Checks the known keys of an upstream's `config` (`at` is the config's path). */
export function checkUpstreamConfig(p: Problems, at: string, config: Readonly<Record<string, unknown>>): void {
  check(p, at, config, UPSTREAM_RULES);
  const phc = config['passive_health_check'];
  if (phc === undefined) return;
  const obj = nestedObject(phc);
  if (obj === undefined) {
    p.add(joinPath(at, 'passive_health_check'), `expected an object with max_failures, base_ejection_time, max_ejection_percent, got ${describe(phc)}`);
    return;
  }
  check(p, joinPath(at, 'passive_health_check'), obj, PASSIVE_RULES);
}
