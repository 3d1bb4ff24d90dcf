/**
 * The transmit-limited broadcast queue (memberlist's TransmitLimitedQueue). Membership changes and
 * queries wait here and ride on outgoing pings, acks and gossip rounds. Each broadcast is sent at most
 * retransmitMult x ceil(log10(N + 1)) times, the least-transmitted first, newest first among equals,
 * which spreads every update to all N members with high probability in O(log N) rounds.
 *
 * A new broadcast with the same key replaces the queued one (a newer `alive` about a node makes the
 * older `suspect` about it pointless), so the queue holds at most one broadcast per subject.
 *
 * Layout: one stack per transmit count, newest on top. Taking a broadcast moves it to the next stack.
 * Removal is lazy (a stale entry is skipped and a stack is compacted when half of it is stale), so a
 * call costs O(taken + skipped) rather than O(queue length), which matters during join storms of
 * thousands of members.
 */

/** A queued broadcast. */
interface Entry {
  key: string;
  msg: Buffer;
  transmits: number;
  /** Which stack currently holds the live copy; stale copies elsewhere have another value. */
  live: boolean;
  onDone: (() => void) | undefined;
}

/** Bounded-retransmit queue of encoded messages. */
export class BroadcastQueue {
  private readonly stacks: Entry[][] = [];
  private readonly stale: number[] = [];
  private readonly byKey = new Map<string, Entry>();

  /**
   * @param retransmitMult memberlist's RetransmitMult
   * @param numNodes the current estimate of N (alive members), read at each call
   */
  constructor(
    private readonly retransmitMult: number,
    private readonly numNodes: () => number,
  ) {}

  /** The retransmit limit for the current N: retransmitMult x ceil(log10(N + 1)). */
  retransmitLimit(): number {
    return this.retransmitMult * Math.max(1, Math.ceil(Math.log10(this.numNodes() + 1)));
  }

  /**
   * Queues `msg` under `key`, replacing any queued broadcast with the same key. `onDone` runs when the
   * broadcast has been sent its full count or was replaced (used by leave to know it went out).
   */
  queue(key: string, msg: Buffer, onDone?: () => void): void {
    const old = this.byKey.get(key);
    if (old) this.retire(old);
    const entry: Entry = { key, msg, transmits: 0, live: true, onDone };
    this.byKey.set(key, entry);
    this.push(entry);
    // Replacements leave stale copies; tidy now and then even when nothing is being sent.
    if ((this.stale[0] ?? 0) > 64) this.tidy();
  }

  /** Number of queued broadcasts. */
  size(): number {
    return this.byKey.size;
  }

  /**
   * Takes broadcasts whose encoded sizes plus `overhead` bytes each fit in `limit` bytes, least
   * transmitted first, and counts one transmission for each.
   */
  take(overhead: number, limit: number): Buffer[] {
    const out: Buffer[] = [];
    const max = this.retransmitLimit();
    let budget = limit;
    const moved: Entry[] = [];
    for (let t = 0; t < this.stacks.length && budget > overhead; t++) {
      const stack = this.stacks[t]!;
      for (let i = stack.length - 1; i >= 0 && budget > overhead; i--) {
        const e = stack[i]!;
        if (!e.live || e.transmits !== t) continue;
        const cost = e.msg.length + overhead;
        if (cost > budget) continue;
        budget -= cost;
        out.push(e.msg);
        this.markStale(t, stack, i);
        e.transmits++;
        if (e.transmits >= max) this.retire(e);
        else moved.push(e);
      }
    }
    // Re-add after the scan so an entry is never taken twice in one call.
    for (const e of moved) this.push(e);
    this.tidy();
    return out;
  }

  /** Drops everything (shutdown). */
  reset(): void {
    for (const e of this.byKey.values()) this.retire(e);
    this.stacks.length = 0;
    this.stale.length = 0;
  }

  private push(e: Entry): void {
    while (this.stacks.length <= e.transmits) {
      this.stacks.push([]);
      this.stale.push(0);
    }
    this.stacks[e.transmits]!.push(e);
  }

  private retire(e: Entry): void {
    if (!e.live) return;
    e.live = false;
    if (this.byKey.get(e.key) === e) this.byKey.delete(e.key);
    const stack = this.stacks[e.transmits];
    if (stack) this.noteStale(e.transmits, stack);
    e.onDone?.();
  }

  private markStale(t: number, stack: Entry[], index: number): void {
    // The entry moves to the next stack: pop it if on top, otherwise leave a stale copy behind.
    if (index === stack.length - 1) stack.pop();
    else this.noteStale(t, stack);
  }

  /** Counts a stale copy; compaction waits until no scan is running over the stack (see tidy). */
  private noteStale(t: number, _stack: Entry[]): void {
    this.stale[t] = (this.stale[t] ?? 0) + 1;
  }

  /**
   * Compacts stacks that are mostly stale and trims stale entries off their tops, so the common take
   * path stays short. Runs only between scans: compacting a stack while take() walks it would move
   * entries under its index.
   */
  private tidy(): void {
    for (let t = 0; t < this.stacks.length; t++) {
      const stack = this.stacks[t]!;
      if (this.stale[t]! * 2 > stack.length && stack.length > 16) {
        const kept = stack.filter((e) => e.live && e.transmits === t);
        stack.length = 0;
        stack.push(...kept);
        this.stale[t] = 0;
      }
      while (stack.length > 0) {
        const top = stack[stack.length - 1]!;
        if (top.live && top.transmits === t) break;
        stack.pop();
      }
    }
  }
}
