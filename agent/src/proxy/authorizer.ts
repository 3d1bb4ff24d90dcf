/**
 * Intentions as the proxy applies them: the L4 decision of `ca-client/intentions.ts` (exact names
 * before wildcards, deny winning at equal precedence, `default_intention_policy` when nothing
 * matches), memoized per (caller, destination) until the next snapshot replaces the authorizer.
 */
import type { ConfigEntry } from '../config-entries';
import { authorize } from '../ca-client/intentions';

/** A caller as its certificate names it. */
export interface Caller {
  spiffeId: string;
  trustDomain: string;
  namespace: string;
  datacenter: string;
  /** Service name; `unknown` or `not-a-service` when the certificate names no service. */
  service: string;
}

/** A decision with its reason (for the access log). */
export interface Decision {
  allowed: boolean;
  reason: string;
}

/** Decides connections against one set of intentions. */
export class Authorizer {
  private readonly memo = new Map<string, Decision>();

  constructor(
    private readonly entries: readonly ConfigEntry[],
    private readonly trustDomain: string,
    private readonly defaultPolicy: 'allow' | 'deny',
  ) {}

  decide(caller: Caller, destination: string): Decision {
    const key = `${caller.spiffeId}\u0000${destination}`;
    let d = this.memo.get(key);
    if (d === undefined) {
      d = this.compute(caller, destination);
      if (this.memo.size > 10_000) this.memo.clear();
      this.memo.set(key, d);
    }
    return d;
  }

  private compute(caller: Caller, destination: string): Decision {
    if (caller.trustDomain === '') return { allowed: false, reason: `the caller's certificate names no service (${caller.spiffeId || 'no SPIFFE ID'})` };
    const r = authorize(this.entries, {
      target: destination, caller: { trustDomain: caller.trustDomain, namespace: caller.namespace, service: caller.service },
      trustDomain: this.trustDomain, defaultPolicy: this.defaultPolicy,
    });
    return { allowed: r.authorized, reason: r.reason };
  }
}
