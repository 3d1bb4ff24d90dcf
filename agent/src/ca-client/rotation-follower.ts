/**
 * What every agent (not only the coordinator) does in a root rotation, driven by the rotation record
 * in the trust bundle:
 * - step 4 on every agent: reissue the leaves that are not under the active root, within the
 *   rotation's window (`reissuePlan`, pure);
 * - step 3 on the cluster's other servers: fetch the new intermediate, sealed to this server's agent
 *   key, from the coordinator or a server that already switched, and sign with it (`fetchIntermediate`).
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

/** Fetches the new intermediate from a server that holds it and switches `server` to it; false when none could give it. */
export async function fetchIntermediate(o: {
  st: RotationState; server: CaServerRole; bundle: TrustBundleStore; agent: IssuedLeaf; agentChain: string[]; members: readonly Member[];
  self: string; logger: Logger;
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
      await o.server.switchTo(signerMaterial(got, cross));
      return true;
    } catch (err) {
      o.logger.warn({ from: m.name, err: (err as Error).message }, 'could not fetch the new intermediate; trying another server');
    }
  }
  return false;
}
