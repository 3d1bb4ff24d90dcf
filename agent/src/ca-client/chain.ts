/**
 * Which intermediate certificates a leaf is presented with. During a root rotation no single chain
 * satisfies every verifier (Node 20 with OpenSSL 3.0; agent/test/ca-client/chain.test.ts shakes hands with each combination): a verifier that
 * trusts only the old root needs the cross-signed copy of the new intermediate, one that trusts only
 * the new root needs the direct one, and OpenSSL takes the first matching issuer in the presented
 * chain without backtracking. So:
 *
 * - until the rotation reaches `drop-old-root`, leaves under the new intermediate are presented with
 *   its cross-signed copy (old-root verifiers, including consumers that have not re-read the roots
 *   yet, accept them; every member trusts both roots by then, step 2 saw to it);
 * - from `drop-old-root` on (a grace period before the old root goes), with the direct copy, which
 *   both-root verifiers accept and, after the drop, new-root-only verifiers need.
 *
 * Pure: the bundle view, the leaf's AKI and the rotation phase decide.
 */
import { ROTATION_PHASES } from './rotation';
import type { BundleView } from './trust-bundle';

/** The chain (intermediates, issuer first) to present with a leaf whose AKI is `leafAki`. */
export function chooseChain(leafAki: string, view: BundleView, datacenter: string, fallback: readonly string[]): string[] {
  const candidates = view.intermediates.filter((i) => i.ski === leafAki);
  if (candidates.length === 0) return [...fallback];
  const roots = new Set(view.roots.map((r) => r.id));
  const rot = view.rotations.find((r) => r.datacenter === datacenter);
  const early = rot !== undefined && ROTATION_PHASES.indexOf(rot.phase) < ROTATION_PHASES.indexOf('drop-old-root');
  if (early) {
    const cross = candidates.find((c) => c.aki === rot.oldRootId && roots.has(c.aki));
    if (cross !== undefined) return [cross.pem];
  }
  const direct = candidates.find((c) => c.aki === view.activeRootId) ?? candidates.find((c) => roots.has(c.aki));
  return direct === undefined ? [...fallback] : [direct.pem];
}

/** Trust anchors plus every intermediate, for TLS between agents and CA servers (see facts: any order verifies). */
export function verificationPems(view: BundleView): string[] {
  return [...view.roots.map((r) => r.pem), ...view.intermediates.map((i) => i.pem)];
}
