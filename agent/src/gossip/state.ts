/**
 * The member table: every known member's live record, the alive count, the randomized round-robin
 * probe order and uniform random picks for gossip targets. Pure data structure; the state machine that
 * changes records lives in membership.ts.
 */
import type { Random } from '../core/random';
import type { Suspicion } from './suspicion';
import type { Member } from './member';
import type { MemberState, Tags } from './messages';

/** The live record of one member. Only membership.ts mutates it. */
export interface NodeRecord {
  name: string;
  addr: string;
  tags: Tags;
  state: MemberState;
  incarnation: number;
  protocol: number;
  stateChangedAtMs: number;
  suspicion: Suspicion | undefined;
  /** Position in the table's list (maintained by MemberTable; -1 when not in a table). */
  slot: number;
}

/** Creates a record with every field set in one order, so all records share one V8 hidden class. */
export function newRecord(
  name: string, addr: string, tags: Tags, state: MemberState, incarnation: number, protocol: number, nowMs: number,
): NodeRecord {
  return { name, addr, tags, state, incarnation, protocol, stateChangedAtMs: nowMs, suspicion: undefined, slot: -1 };
}

/** Makes the read-only snapshot handed out to callers. */
export function snapshot(r: NodeRecord): Member {
  return {
    name: r.name,
    addr: r.addr,
    tags: r.tags,
    state: r.state,
    incarnation: r.incarnation,
    protocol: r.protocol,
    stateChangedAtMs: r.stateChangedAtMs,
  };
}

/** True for states that take part in probing and count toward N. */
export function isLive(state: MemberState): boolean {
  return state === 'alive' || state === 'suspect';
}

/** All known members, indexed by name, plus the orderings the protocol needs. */
export class MemberTable {
  private readonly byName = new Map<string, NodeRecord>();
  /** Every record, for O(1) uniform random picks; removal swaps with the last element. */
  private readonly list: NodeRecord[] = [];
  /** Randomized round-robin probe order (SWIM's "random round-robin" target selection). */
  private probeOrder: string[] = [];
  private probeIndex = 0;
  private live = 0;
  /** Names of dead and left members, so reaping and reconnecting need not scan the whole table. */
  private readonly gone = new Set<string>();

  constructor(
    private readonly localName: string,
    private readonly random: Random,
  ) {}

  get(name: string): NodeRecord | undefined {
    return this.byName.get(name);
  }

  /** Adds a new record; new members enter the probe order at a random position (as memberlist does). */
  add(r: NodeRecord): void {
    this.byName.set(r.name, r);
    r.slot = this.list.length;
    this.list.push(r);
    if (isLive(r.state)) this.live++;
    else this.gone.add(r.name);
    if (r.name !== this.localName) {
      const at = this.probeOrder.length === 0 ? 0 : this.random.int(this.probeOrder.length + 1);
      this.probeOrder.splice(at, 0, r.name);
      if (at < this.probeIndex) this.probeIndex++;
    }
  }

  /** Removes a reaped record. */
  remove(name: string): void {
    const r = this.byName.get(name);
    if (!r) return;
    if (isLive(r.state)) this.live--;
    this.gone.delete(name);
    this.byName.delete(name);
    const last = this.list.pop()!;
    if (last !== r) {
      this.list[r.slot] = last;
      last.slot = r.slot;
    }
    r.slot = -1;
    // The probe order drops the name lazily, at the next reshuffle (nextProbeTarget skips it).
  }

  /** Changes a record's state, keeping the live count right. */
  setState(r: NodeRecord, state: MemberState, nowMs: number): void {
    if (r.state === state) return;
    if (isLive(r.state)) this.live--;
    if (isLive(state)) this.live++;
    r.state = state;
    r.stateChangedAtMs = nowMs;
    if (isLive(state)) this.gone.delete(r.name);
    else this.gone.add(r.name);
  }

  /** Records of dead and left members. */
  goneMembers(): NodeRecord[] {
    const out: NodeRecord[] = [];
    for (const name of this.gone) out.push(this.byName.get(name)!);
    return out;
  }

  /** Alive plus suspect members, the local node included: SWIM's N. */
  liveCount(): number {
    return this.live;
  }

  /** Every record (no copy; do not mutate). */
  all(): readonly NodeRecord[] {
    return this.list;
  }

  size(): number {
    return this.list.length;
  }

  /**
   * The next member to probe: walks the shuffled order, skipping ourselves, dead, left and reaped
   * members; reshuffles after each full pass. Undefined when nobody else is live.
   */
  nextProbeTarget(): NodeRecord | undefined {
    for (let checked = 0; checked <= this.probeOrder.length; checked++) {
      if (this.probeIndex >= this.probeOrder.length) this.reshuffle();
      if (this.probeOrder.length === 0) return undefined;
      const r = this.byName.get(this.probeOrder[this.probeIndex++]!);
      if (r && isLive(r.state)) return r;
    }
    return undefined;
  }

  /** Moves `name` to the front of the remaining probe order, so it is probed at the next tick. */
  probeNext(name: string): void {
    const j = this.probeOrder.indexOf(name);
    if (j < 0) return;
    if (j >= this.probeIndex) {
      this.probeOrder[j] = this.probeOrder[this.probeIndex]!;
      this.probeOrder[this.probeIndex] = name;
      return;
    }
    // Already probed this round: probe it once more now.
    this.probeOrder.splice(j, 1);
    this.probeIndex--;
    this.probeOrder.splice(this.probeIndex, 0, name);
  }

  /**
   * Up to k distinct random records accepted by `filter` (memberlist's kRandomNodes: bounded tries,
   * so it never loops forever when few members qualify).
   */
  randomMembers(k: number, filter: (r: NodeRecord) => boolean): NodeRecord[] {
    const out: NodeRecord[] = [];
    const n = this.list.length;
    if (n === 0 || k <= 0) return out;
    for (let tries = 0; tries < 3 * n && out.length < k; tries++) {
      const r = this.list[this.random.int(n)]!;
      if (r.name === this.localName || !filter(r) || out.includes(r)) continue;
      out.push(r);
    }
    return out;
  }

  private reshuffle(): void {
    const names: string[] = [];
    for (const r of this.list) if (r.name !== this.localName) names.push(r.name);
    for (let i = names.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      const t = names[i]!;
      names[i] = names[j]!;
      names[j] = t;
    }
    this.probeOrder = names;
    this.probeIndex = 0;
  }
}
