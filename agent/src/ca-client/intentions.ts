/**
 * `POST /v1/agent/connect/authorize`: may the holder of `ClientCertURI` connect to `Target`? Decided
 * from `service-intentions` config entries as Consul does at L4:
 *
 * - Every (destination entry, source) pair that matches target and caller is a candidate; the one
 *   with the highest precedence decides (exact names before wildcards: 9 exact->exact down to
 *   5 *->*, Consul's computeIntentionPrecedence).
 * - Among candidates of equal precedence, deny wins (a conflicting pair of rules fails closed).
 * - A source with L7 `Permissions` cannot be decided without a request: the L4 endpoint treats it as
 *   deny, as the proxy will apply the permissions per request.
 * - Nothing matches: `default_intention_policy` (allow in dev, deny otherwise).
 *
 * Pure: the caller passes the entries and the parsed caller identity.
 */
import type { ConfigEntry } from '../config-entries';
import { intentionPrecedence } from '../config-entries';

/** The decision and the reason, Consul's AgentAuthorize reply. */
export interface AuthorizeResult {
  authorized: boolean;
  reason: string;
}

/** The caller as its certificate's SPIFFE ID names it. */
export interface CallerIdentity {
  trustDomain: string;
  namespace: string;
  service: string;
}

/** What a decision needs besides the entries. */
export interface AuthorizeInput {
  /** Destination service name (`Target`). */
  target: string;
  /** Destination namespace; Shoal has one: "default". */
  targetNamespace?: string;
  caller: CallerIdentity;
  /** This mesh's trust domain: callers from another are refused. */
  trustDomain: string;
  defaultPolicy: 'allow' | 'deny';
}

interface Candidate {
  precedence: number;
  action: 'allow' | 'deny';
  l7: boolean;
  destination: string;
  source: string;
}

const WILDCARD = '*';

/** Decides one authorization from the `service-intentions` entries. */
export function authorize(entries: readonly ConfigEntry[], input: AuthorizeInput): AuthorizeResult {
  if (input.caller.trustDomain !== input.trustDomain) {
    return { authorized: false, reason: `Client certificate is from trust domain ${input.caller.trustDomain}, not ${input.trustDomain}` };
  }
  const best = bestCandidate(candidates(entries, input));
  if (best === undefined) {
    return {
      authorized: input.defaultPolicy === 'allow',
      reason: `Default behavior configured by default_intention_policy (${input.defaultPolicy}): no intention matched`,
    };
  }
  const label = `${best.source} => ${best.destination} (precedence ${best.precedence})`;
  if (best.l7) return { authorized: false, reason: `Matched L7 intention ${label}; L4 authorization denies it (permissions apply per request)` };
  return { authorized: best.action === 'allow', reason: `Matched L4 intention: ${label}, action ${best.action}` };
}

/** Every (destination, source) pair of the entries that applies to this target and caller. */
function candidates(entries: readonly ConfigEntry[], input: AuthorizeInput): Candidate[] {
  const targetNs = input.targetNamespace ?? 'default';
  const out: Candidate[] = [];
  for (const e of entries) {
    if (e.Kind !== 'service-intentions') continue;
    const destNs = typeof e['Namespace'] === 'string' && e['Namespace'] !== '' ? e['Namespace'] : 'default';
    if (!matches(e.Name, input.target) || !matches(destNs, targetNs)) continue;
    const sources = Array.isArray(e['Sources']) ? (e['Sources'] as Record<string, unknown>[]) : [];
    for (const s of sources) {
      const name = typeof s['Name'] === 'string' ? s['Name'] : '';
      const ns = typeof s['Namespace'] === 'string' && s['Namespace'] !== '' ? s['Namespace'] : destNs;
      if (typeof s['Peer'] === 'string' && s['Peer'] !== '') continue; // peered sources are never local callers
      if (!matches(name, input.caller.service) || !matches(ns, input.caller.namespace)) continue;
      const perms = Array.isArray(s['Permissions']) ? s['Permissions'] : [];
      out.push({
        precedence: intentionPrecedence({ name: e.Name, namespace: destNs }, { name, namespace: ns }),
        action: s['Action'] === 'allow' ? 'allow' : 'deny',
        l7: perms.length > 0,
        destination: e.Name,
        source: name,
      });
    }
  }
  return out;
}

/** Highest precedence; at equal precedence deny (or L7, which is deny here) beats allow. */
function bestCandidate(cs: readonly Candidate[]): Candidate | undefined {
  let best: Candidate | undefined;
  for (const c of cs) {
    if (best === undefined || c.precedence > best.precedence) best = c;
    else if (c.precedence === best.precedence && denies(c) && !denies(best)) best = c;
  }
  return best;
}

function denies(c: Candidate): boolean {
  return c.l7 || c.action === 'deny';
}

function matches(pattern: string, value: string): boolean {
  return pattern === WILDCARD || pattern === value;
}
