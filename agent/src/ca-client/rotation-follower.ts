/**
 * What every agent (not only the coordinator) does in a root rotation, driven by the rotation record
 * in the trust bundle:
 * - step 4 on every agent: reissue the leaves that are not under the active root, within the
 *   rotation's window (`reissuePlan`, pure);
 * - steps 1-2 on the cluster's other servers: fetch the new intermediate, sealed to this server's
 *   agent key, from the coordinator and hold it staged, so that any server can take the rotation over
 *   if the coordinator dies (`mustStage`, `fetchIntermediate` with `stageOnly`);
 * - step 3 on those servers: sign with it (the staged copy, or fetched from the coordinator or a
 *   server that already switched).
 */
import type { Logger } from '../core/logger';
import type { Member } from '../gossip/member';
import { memberCaView, tagRootId } from './ca-tags';
import type { IssuedLeaf } from './leaf-manager';
import { ROTATION_PHASES, type RotationState } from './rotation';
import { openFetched, type CaServerRole } from './server-role';
import { signerMaterial } from './signer-material';
import type { BundleView, TrustBundleStore } from './trust-bundle';

const phaseIndex = (p: RotationState['phase']): number => ROTATION_PHASES.indexOf(p);

/**
 * Which leaves to reissue now: those not under the active root, within the rotation's window while
 * one is in steps 4-5, or within `strayWindowMs` otherwise (an agent back from a long absence). None
 * before step 4: switched servers already sign under the new root then, and reissuing would chase
 * the still-active old one.
 */
export function reissuePlan(view: BundleView, rot: RotationState | undefined, strayWindowMs: number): { rootId: string; windowMs: number } | undefined {
  if (view.activeRootId === '') return undefined;
  if (rot !== undefined && phaseIndex(rot.phase) < phaseIndex('reissue-leaves')) return undefined;
  const during = rot !== undefined && rot.phase !== 'done';
  return { rootId: view.activeRootId, windowMs: during ? rot.reissueWindowMs : strayWindowMs };
}

/** True when this server must switch to the rotation's new intermediate (step 3 reached, not switched yet). */
export function mustSwitch(server: CaServerRole, st: RotationState | undefined): st is RotationState {
  return st !== undefined && phaseIndex(st.phase) >= phaseIndex('switch-signers') && server.current.intermediateId !== st.intermediateId;
}

/** Switches `server` to its staged copy of the rotation's intermediate, with the cross-signed copy the bundle holds now. */
export async function switchToStaged(server: CaServerRole, bundle: TrustBundleStore, st: RotationState): Promise<boolean> {
  const staged = server.staged;
  if (staged?.intermediateId !== st.intermediateId) return false;
  const cross = bundle.view().intermediates.filter((i) => i.ski === st.intermediateId && i.aki !== st.newRootId).map((i) => i.pem);
  await server.switchTo(signerMaterial({ certPem: staged.certPem, keyPem: staged.keyPem }, cross));
  return true;
}

/** True when this server should fetch and stage the new intermediate ahead of step 3 (steps 1-2, not held yet). */
export function mustStage(server: CaServerRole, st: RotationState | undefined): st is RotationState {
  return st !== undefined && phaseIndex(st.phase) < phaseIndex('switch-signers') && server.current.intermediateId !== st.intermediateId &&
    server.staged?.intermediateId !== st.intermediateId;
}

/**
 * Fetches the new intermediate from a server that holds it and switches `server` to it (or, with
 * `stageOnly`, stages it); false when none could give it.
 */
export async function fetchIntermediate(o: {
  st: RotationState; server: CaServerRole; bundle: TrustBundleStore; agent: IssuedLeaf; agentChain: string[]; members: readonly Member[];
  self: string; logger: Logger; stageOnly?: boolean;
}): Promise<boolean> {
  const { st } = o;
  const sources = o.members.filter((m) => m.name !== o.self && m.state === 'alive' &&
    (m.name === st.coordinator || memberCaView(m).signerRoot === tagRootId(st.newRootId)));
  for (const m of sources) {
    try {
      const answer = await o.bundle.request(m.addr, { t: 'fetch-intermediate', intermediateId: st.intermediateId, agentCertPem: o.agent.certPem, agentChainPem: o.agentChain });
      const got = openFetched(answer, o.agent.keyPem, st.intermediateId);
      // The cross-signed copy (same key, issued by the old root) goes in the chain after the intermediate.
      const cross = o.bundle.view().intermediates.filter((i) => i.ski === st.intermediateId && i.aki !== st.newRootId).map((i) => i.pem);
      const material = signerMaterial(got, cross);
      if (o.stageOnly === true) o.server.stage(material);
      else await o.server.switchTo(material);
      return true;
    } catch (err) {
      o.logger.warn({ from: m.name, err: (err as Error).message }, 'could not fetch the new intermediate; trying another server');
    }
  }
  return false;
}
