/**
 * A hybrid logical clock (Kulkarni et al., "Logical Physical Clocks", 2014): timestamps that stay
 * close to wall time but never go backwards and always exceed every timestamp this agent has seen,
 * so a write made after another (causally) always carries a larger stamp, even across agents whose
 * wall clocks disagree. Config entries resolve conflicts last-writer-wins on (hlc, node): the node
 * name breaks ties deterministically, so every agent picks the same winner.
 */

/** A hybrid logical timestamp: wall milliseconds plus a counter for events within one millisecond. */
export interface Hlc {
  wallMs: number;
  counter: number;
}

/** The stamp of one write: its timestamp and the writing node. */
export interface Stamp {
  hlc: Hlc;
  node: string;
}

/** Orders two timestamps: negative when a is earlier. */
export function compareHlc(a: Hlc, b: Hlc): number {
  return a.wallMs !== b.wallMs ? a.wallMs - b.wallMs : a.counter - b.counter;
}

/** Orders two writes: timestamp first, then node name (UTF-16 code unit order, as everywhere). */
export function compareStamps(a: Stamp, b: Stamp): number {
  const c = compareHlc(a.hlc, b.hlc);
  if (c !== 0) return c;
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0;
}

/** The clock. `wallNow` is injected (Clock.wallNow) so tests run on virtual time. */
export class HybridClock {
  private last: Hlc;

  /** @param initial the largest timestamp seen before (persisted), so a restart never goes back */
  constructor(private readonly wallNow: () => number, initial: Hlc = { wallMs: 0, counter: 0 }) {
    this.last = { ...initial };
  }

  /** A timestamp for a local event (a write): later than everything seen so far. */
  now(): Hlc {
    const pt = Math.floor(this.wallNow());
    this.last = pt > this.last.wallMs ? { wallMs: pt, counter: 0 } : { wallMs: this.last.wallMs, counter: this.last.counter + 1 };
    return { ...this.last };
  }

  /** Takes in a timestamp from a peer, so later local events are stamped after it. */
  receive(remote: Hlc): Hlc {
    const pt = Math.floor(this.wallNow());
    const l = Math.max(this.last.wallMs, remote.wallMs, pt);
    let c: number;
    if (l === this.last.wallMs && l === remote.wallMs) c = Math.max(this.last.counter, remote.counter) + 1;
    else if (l === this.last.wallMs) c = this.last.counter + 1;
    else if (l === remote.wallMs) c = remote.counter + 1;
    else c = 0;
    this.last = { wallMs: l, counter: c };
    return { ...this.last };
  }

  /** The latest timestamp issued or received (for persisting). */
  peek(): Hlc {
    return { ...this.last };
  }
}
