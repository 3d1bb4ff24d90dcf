/** Public surface of the agent's CA side: the layer the agent wires in, and the pure policy functions. */
export { CaLayer, type CaChange, type CaLayerOptions, type CaMembership, type CaTuning } from './ca-layer';
export { backoffMs, defaultBackoffPolicy, type BackoffPolicy } from './backoff';
export { renewAtMs, servable, RENEW_FROM, RENEW_TO } from './renewal';
export { authorize, type AuthorizeInput, type AuthorizeResult, type CallerIdentity } from './intentions';
export {
  gateBlockers, requestAdvance, reissueWindowMs, ROTATION_PHASES, startRotation, stepRotation, type Blocker, type MemberCaView,
  type RotationAction, type RotationObservation, type RotationPhase, type RotationPlan, type RotationState, type RotationStep,
} from './rotation';
export { caStatus, RotationCoordinator, type CaStatus, type MemberProgress, type RotateRequest, type RotateResult } from './rotation-coordinator';
export { caServers, caTags, memberCaView, type CaServerEndpoint } from './ca-tags';
export { chooseChain, verificationPems } from './chain';
export { CaClientError, CaClientErrorCode } from './errors';
export { LeafManager, type IssuedLeaf, type LeafChange } from './leaf-manager';
export { SignClient, outcomeOf, type SignTransport } from './sign-client';
export { TrustBundleStore, BUNDLE_FILE, type BundleView } from './trust-bundle';
export type { LeafView, RootsView, RootView } from './connect-views';
