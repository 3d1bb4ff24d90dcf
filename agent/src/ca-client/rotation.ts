/**
 * Root rotation as a verified state machine. Pure: every decision is a function of the rotation's
 * state and an observation of the cluster (gossip tags of every member, what the bundle holds, the
 * time); the coordinator (rotation-coordinator.ts) performs the actions and persists the state.
 *
 *   publish ──► confirm-trust ──► switch-signers ──► reissue-leaves ──► drop-old-root ──► done
 *   (1) new root   (2) every live     (3) every live      (4) every live     grace period,  (5) old root
 *   in the bundle  member's ca_trust  server's ca_root    member's ca_leaves leaves still   tombstoned
 *                  lists it           is the new root     is the new root    all new
 *
 * Each phase has idempotent "ensure" actions, re-run on every tick, so a coordinator restarted in
 * any phase converges again without remembering what it had done. A gate that does not hold names
 * each member that blocks it and why; in manual mode an operator's request to advance is refused
 * with exactly those reasons.
 *
 * Longer than most files here on purpose: the phases, their gates and their actions read as one table.
 */

import { tagRootId } from './ca-tags';

/** The phases, in order. */
export const ROTATION_PHASES = ['publish', 'confirm-trust', 'switch-signers', 'reissue-leaves', 'drop-old-root', 'done'] as const;

export type RotationPhase = (typeof ROTATION_PHASES)[number];

/** What the coordinator does to put the cluster in the state a phase assumes. All idempotent. */
export type RotationAction =
  /** Add the new root (inactive) and the cross-signed certificate to the trust bundle. */
  | 'publish-root'
  /** Announce the new intermediate to the cluster's servers (they fetch it and switch signers). */
  | 'stage-intermediate'
  /** Mark the new root active in the bundle: agents reissue their leaves within the window. */
  | 'activate-root'
  /** Tombstone the old root and the intermediates that chain only to it. */
  | 'drop-old-root';

/** The fixed facts of one rotation. Times are wall-clock Unix ms. */
export interface RotationPlan {
  /** The new root's id (hex SKI); a rotation is named by it. */
  id: string;
  datacenter: string;
  oldRootId: string;
  newRootId: string;
  /** Id (hex SKI) of this cluster's new intermediate, signed by the new root. */
  intermediateId: string;
  /** Node that drives the rotation. */
  coordinator: string;
  /** Agents reissue each leaf at a uniform random delay in [0, window). */
  reissueWindowMs: number;
  /** Wait after every member reported new leaves before dropping the old root, so consumers swap. */
  dropGraceMs: number;
  /** Manual: phases advance only when an operator asks (and the gate holds). */
  manual: boolean;
  startedAtMs: number;
}

/** A rotation in progress (or finished). */
export interface RotationState extends RotationPlan {
  phase: RotationPhase;
  /** When the current phase began. */
  phaseSinceMs: number;
  finishedAtMs?: number;
  /**
   * Coordinator term, 0 when absent: each takeover raises it (see electCoordinator). The bundle
   * orders rotation records by term before stamp, so a coordinator that comes back with an older
   * term can never overwrite its successor's record.
   */
  term?: number;
}

/** One member as its gossip tags describe it. */
export interface MemberCaView {
  name: string;
  /** Alive or suspect: it must confirm. Failed and left members are not waited for. */
  live: boolean;
  server: boolean;
  datacenter: string;
  /** False when the member announces no CA tags at all (CA disabled there): not waited for. */
  participates: boolean;
  /** `ca_trust`: ids of the roots it holds (tag ids: the first 16 hex characters, see ca-tags.ts). */
  trust: readonly string[];
  /** `ca_leaves`: the root all its leaves chain to, '' when none or mixed (a tag id). */
  leaves: string;
  /** `ca_root` (servers): the root it signs under (a tag id). */
  signerRoot: string;
}

/** What the coordinator sees on one tick. */
export interface RotationObservation {
  nowMs: number;
  members: readonly MemberCaView[];
  /** The bundle holds the new root. */
  bundleHasNewRoot: boolean;
}

/** A member that keeps a gate closed. */
export interface Blocker {
  member: string;
  reason: string;
}

/** Result of one evaluation. */
export interface RotationStep {
  state: RotationState;
  /** Ensure-actions of the (possibly new) phase, to perform now. */
  actions: RotationAction[];
  /** What keeps the current phase's gate closed (empty when it opened or the rotation is done). */
  blockers: Blocker[];
  /** True when the phase changed in this step. */
  advanced: boolean;
}

/** Ensure-actions of each phase. */
const ENSURE: Readonly<Record<RotationPhase, readonly RotationAction[]>> = {
  'publish': ['publish-root'],
  'confirm-trust': ['publish-root'],
  'switch-signers': ['publish-root', 'stage-intermediate'],
  'reissue-leaves': ['publish-root', 'stage-intermediate', 'activate-root'],
  'drop-old-root': ['publish-root', 'stage-intermediate', 'activate-root'],
  'done': ['stage-intermediate', 'activate-root', 'drop-old-root'],
};

/** A new rotation, in its first phase. */
export function startRotation(plan: RotationPlan): RotationState {
  return { ...plan, phase: 'publish', phaseSinceMs: plan.startedAtMs };
}

/** What keeps `state.phase` from advancing under `obs`; empty when the gate holds. */
export function gateBlockers(state: RotationState, obs: RotationObservation): Blocker[] {
  const members = obs.members.filter((m) => m.live && m.participates);
  const newRoot = tagRootId(state.newRootId);
  const trust = (): Blocker[] => members.filter((m) => !m.trust.includes(newRoot))
    .map((m) => ({ member: m.name, reason: `does not trust the new root ${short(state.newRootId)} yet (ca_trust: ${list(m.trust)})` }));
  const signers = (): Blocker[] => members.filter((m) => m.server && m.datacenter === state.datacenter && m.signerRoot !== newRoot)
    .map((m) => ({ member: m.name, reason: `server still signs under root ${short(m.signerRoot) || '(none)'}` }));
  const leaves = (): Blocker[] => members.filter((m) => m.leaves !== newRoot)
    .map((m) => ({ member: m.name, reason: `leaves chain to ${m.leaves === '' ? 'no single root (some not reissued yet)' : `root ${short(m.leaves)}`}` }));
  switch (state.phase) {
    case 'publish':
      return obs.bundleHasNewRoot ? [] : [{ member: state.coordinator, reason: 'the new root is not in the trust bundle yet' }];
    case 'confirm-trust':
      return trust();
    case 'switch-signers':
      return [...trust(), ...signers()];
    case 'reissue-leaves':
      return [...trust(), ...signers(), ...leaves()];
    case 'drop-old-root': {
      const left = state.phaseSinceMs + state.dropGraceMs - obs.nowMs;
      const grace = left > 0 ? [{ member: state.coordinator, reason: `grace period: ${Math.ceil(left / 1000)} s left for consumers to swap to the new leaves` }] : [];
      return [...trust(), ...signers(), ...leaves(), ...grace];
    }
    case 'done':
      return [];
  }
}

/**
 * One tick: advances one phase when its gate holds (automatic mode, or `operatorAdvance` in manual
 * mode), and returns the ensure-actions of the phase the rotation is then in.
 */
export function stepRotation(state: RotationState, obs: RotationObservation, operatorAdvance = false): RotationStep {
  const blockers = gateBlockers(state, obs);
  const mayAdvance = state.phase !== 'done' && blockers.length === 0 && (!state.manual || operatorAdvance);
  if (!mayAdvance) return { state, actions: [...ENSURE[state.phase]], blockers, advanced: false };
  const phase = ROTATION_PHASES[ROTATION_PHASES.indexOf(state.phase) + 1]!;
  const next: RotationState = { ...state, phase, phaseSinceMs: obs.nowMs };
  if (phase === 'done') next.finishedAtMs = obs.nowMs;
  return { state: next, actions: [...ENSURE[phase]], blockers: [], advanced: true };
}

/**
 * Manual advance: the next phase when its gate holds, else a refusal naming every blocker. The
 * caller persists `state` only when `refused` is undefined.
 */
export function requestAdvance(state: RotationState, obs: RotationObservation): RotationStep & { refused?: string } {
  if (state.phase === 'done') return { state, actions: [], blockers: [], advanced: false, refused: 'the rotation is already done' };
  const step = stepRotation(state, obs, true);
  if (step.advanced) return step;
  const why = step.blockers.map((b) => `${b.member}: ${b.reason}`).join('; ');
  return { ...step, refused: `cannot leave phase ${state.phase}: ${why}` };
}

/**
 * Which server drives `state`: its named coordinator while that member is live (alive or suspect: a
 * suspicion is not a takeover), else the live server of the rotating cluster with the lowest node
 * name. Every server computes this from the same gossip view, so exactly one takes over once the
 * coordinator is declared failed or left; undefined when the cluster has no live server.
 */
export function electCoordinator(state: RotationState, members: readonly MemberCaView[]): string | undefined {
  const servers = members.filter((m) => m.live && m.server && m.datacenter === state.datacenter).map((m) => m.name);
  if (servers.includes(state.coordinator)) return state.coordinator;
  return servers.sort()[0];
}

/** Inputs of the reissue window. */
export interface ReissueWindowInput {
  /** Leaves to reissue in the cluster (members plus services with a sidecar). */
  leaves: number;
  /** Live servers of the cluster that sign. */
  servers: number;
  /** Each server's signing rate limit, per second. */
  ratePerSec: number;
  /** Share of the servers' rate the reissue may use: 0.25 leaves room for ordinary renewals and retries. */
  utilization?: number;
  /** Shortest window: 30 s. */
  minMs?: number;
  /** Longest window: 6 h, so a rotation of a huge fleet still ends within a working day. */
  maxMs?: number;
}

/**
 * How long agents spread their reissue over:
 * window = leaves / (servers x ratePerSec x utilization) seconds, clamped to [minMs, maxMs].
 * With 5000 leaves, 3 servers at 50/s and 25% utilization: 133 s. The expected request rate is then
 * utilization x capacity, so the rate limit is never the bottleneck.
 */
export function reissueWindowMs(i: ReissueWindowInput): number {
  const util = i.utilization ?? 0.25;
  const minMs = i.minMs ?? 30_000;
  const maxMs = i.maxMs ?? 6 * 3_600_000;
  const capacity = Math.max(1, i.servers) * Math.max(0.001, i.ratePerSec) * util;
  const ms = (Math.max(0, i.leaves) / capacity) * 1000;
  return Math.round(Math.min(maxMs, Math.max(minMs, ms)));
}

function short(id: string): string {
  return id.slice(0, 16);
}

function list(ids: readonly string[]): string {
  return ids.length === 0 ? '(none)' : ids.map(short).join(',');
}
