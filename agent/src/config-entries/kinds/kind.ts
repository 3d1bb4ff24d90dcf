/**
 * What each config entry kind module provides: its fields, how its Name is checked, cross-field
 * checks, and the normalization Consul applies on write (computed intention precedence, split
 * weights rounded to 0.01 %).
 */
import type { ConfigEntryKind } from '../types';
import type { Ctx, Fields, Validator } from './schema';

/** One kind's rules. */
export interface KindSpec {
  kind: ConfigEntryKind;
  /** The kind's own fields (Kind, Name, Namespace, Partition and Meta are common). */
  fields: Fields;
  /** Checks `Name`. */
  name: Validator<string>;
  /** The name used when Name is omitted (proxy-defaults: "global", mesh: "mesh"); else required. */
  defaultName?: string;
  /** The entry's Namespace may be "*" (service-intentions). */
  namespaceWildcard?: boolean;
  /** Accepted on input and dropped (read-only fields Consul returns, such as intentions' Hash). */
  ignored?: readonly string[];
  /** Cross-field checks on the entry (fields that passed their own checks; `failed`: those refused). */
  check?(entry: Record<string, unknown>, ctx: Ctx, failed: ReadonlySet<string>): void;
  /** Normalization after a successful validation; must be idempotent. */
  normalize?(entry: Record<string, unknown>): void;
}

/** A field that exists in Consul but that Shoal cannot honour: refused with the reason. */
export function unsupported(reason: string): Validator {
  return (_v, path, ctx) => void ctx.problem(path, `is not supported by Shoal: ${reason}`);
}
