/**
 * Drives a root rotation on the server where an operator started it (`PUT /v1/connect/ca/rotate`):
 * every tick observes the cluster through gossip tags and the bundle, asks the pure state machine
 * (rotation.ts) what to do, does it, and persists the state, so a restarted coordinator resumes.
 *
 * Takeover: every server runs a coordinator that watches the replicated rotation record. When the
 * named coordinator is failed or left, the server `electCoordinator` picks (lowest live server
 * name) takes the rotation over from the record, with the next coordinator term, and goes on from
 * the phase it finds; the other servers staged the new intermediate early (rotation-follower.ts), so
 * the successor holds the material. A coordinator acts only while the bundle's record names it with
 * its own term: one that finds a later term (a successor took over while it was down) stands down
 * before acting, and its late writes lose to the successor's record everywhere (bundle-record.ts
 * orders rotation records by term first). A restarted coordinator waits `resumeDelayMs` before its
 * first tick, so its join push-pull can bring it the successor's record.
 *
 * Key material: the operator's `shoal ca rotate` makes this cluster's new intermediate (signed by the
 * new root) and a cross-signed copy of it (signed by the old root) on the operator's machine, where
 * both root keys already are; no root key reaches any agent. The request carries the new root
 * certificate, the new intermediate and its key, and the cross-signed copy. The coordinator keeps the
 * intermediate key in `<data_dir>/ca/rotation.json` (0600) until the rotation is done; the cluster's
 * other servers fetch it sealed to their agent keys (intermediate-transfer.ts). In dev mode, where
 * the agent itself holds the in-memory root, it can generate all of it (`generate`).
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { certInfo, createIntermediate, createRoot, crossSign, type CertAndKey } from '../../../ca/src';
import { writeFileAtomic } from '../agent/atomic-file';
import type { Clock, TimerHandle } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Member } from '../gossip/member';
import { ACTIVE_KEY, intermediateKey, rootKey, rotationKey } from './bundle-record';
import { memberCaView, tagRootId } from './ca-tags';
import { CaClientError, CaClientErrorCode } from './errors';
import {
  electCoordinator, gateBlockers, requestAdvance, reissueWindowMs, ROTATION_PHASES, startRotation, stepRotation, type Blocker, type RotationAction,
  type RotationObservation, type RotationState,
} from './rotation';
import type { CaServerRole } from './server-role';
import { signerMaterial, type SignerMaterial } from './signer-material';
import type { BundleView, TrustBundleStore } from './trust-bundle';

/** File of the coordinator's state, under the data directory. */
export const ROTATION_FILE = join('ca', 'rotation.json');

/** What an operator sends to start a rotation. */
export interface RotateRequest {
  rootCertPem?: string;
  intermediateCertPem?: string;
  intermediateKeyPem?: string;
  crossSignedCertPem?: string;
  /** Dev mode only: make the new root, intermediate and cross-signed copy here. */
  generate?: boolean;
  dryRun?: boolean;
  manual?: boolean;
  /** Overrides the computed reissue window. */
  reissueWindowMs?: number;
  /** Wait between "every leaf reissued" and dropping the old root: 60 s. */
  dropGraceMs?: number;
}

/** The answer to a rotate request. */
export interface RotateResult {
  dryRun: boolean;
  state: RotationState;
  /** What would hold (dry run) or holds the first gates now. */
  blockers: Blocker[];
}

/** One member's progress, for `shoal ca status`. */
export interface MemberProgress {
  name: string;
  state: string;
  server: boolean;
  participates: boolean;
  trustedRoots: string[];
  leavesRoot: string;
  signerRoot: string;
  trustsNewRoot: boolean;
  signsUnderNewRoot: boolean | undefined;
  leavesUnderNewRoot: boolean;
}

/** `GET /v1/connect/ca/status`. */
export interface CaStatus {
  datacenter: string;
  trustDomain: string;
  activeRootId: string;
  rootIds: string[];
  rotation: (RotationState & { step: number; blockers: Blocker[] }) | undefined;
  members: MemberProgress[];
}

/** Staged material of the rotation in progress. */
interface Staged {
  rootCertPem: string;
  signer: SignerMaterial;
  crossSignedCertPem: string;
}

/** Options of RotationCoordinator. */
export interface RotationCoordinatorOptions {
  nodeName: string;
  datacenter: string;
  trustDomain: string;
  dataDir: string | undefined;
  bundle: TrustBundleStore;
  server: CaServerRole;
  members: () => Member[];
  /** Leaves in the cluster, for the reissue window (members plus sidecar services). */
  leavesEstimate: () => number;
  ratePerSec: number;
  /** Dev mode: the in-memory root, so `generate` can make new material. */
  devRoot?: () => CertAndKey | undefined;
  clock: Clock;
  logger: Logger;
  /** Tick: 1 s. */
  tickMs?: number;
  /** Smallest reissue window when none is given: 30 s. */
  minReissueWindowMs?: number;
  /** Wait before a restarted coordinator's first tick, for its join to bring a successor's record: 5 s. */
  resumeDelayMs?: number;
  /**
   * How long the coordinator must have been failed or left before another server takes over: 15 s.
   * A coordinator restarted by its operator (a graceful leave, then a rejoin within seconds) keeps its
   * rotation; a successor that took over from a record it had not fully received could step a phase back.
   */
  takeoverGraceMs?: number;
}

/** Runs one rotation at a time for this server's cluster. */
export class RotationCoordinator {
  private state: RotationState | undefined;
  private staged: Staged | undefined;
  private timer: TimerHandle | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  /** Monotonic ms when start() ran: takeovers wait `resumeDelayMs` after it, for the join to bring the cluster's record. */
  private startedAtMs = 0;
  /** Monotonic ms until which a resumed rotation waits for the cluster's record before acting (ticks and operator requests alike). */
  private resumePendingUntilMs = 0;
  /** Dev mode: the root generated by the last `generate`, which signs the next rotation's cross-sign. */
  private generatedRoot: CertAndKey | undefined;

  constructor(private readonly o: RotationCoordinatorOptions) {}

  /** Resumes a persisted rotation that is not done (after `resumeDelayMs`; the first tick stands down if a successor took over). */
  async start(): Promise<void> {
    this.startedAtMs = this.o.clock.now();
    const saved = await this.load();
    if (saved === undefined) return;
    this.state = saved.state;
    this.staged = saved.staged;
    if (this.staged !== undefined && this.state.phase !== 'done') this.o.server.stage(this.staged.signer);
    if (this.state.phase !== 'done') {
      this.o.logger.info({ rotation: this.state.id, phase: this.state.phase, term: this.state.term ?? 0 }, 'resuming root rotation');
      this.resumePendingUntilMs = this.startedAtMs + (this.o.resumeDelayMs ?? 5000);
      this.schedule(this.o.resumeDelayMs ?? 5000);
    }
  }

  /**
   * Takes the cluster's rotation over when its coordinator is failed or left and this server is the
   * one elected (called on every CA reconcile). Returns true when it took over.
   */
  async watch(): Promise<boolean> {
    if (this.stopped || (this.state !== undefined && this.state.phase !== 'done')) return false;
    if (this.o.clock.now() - this.startedAtMs < (this.o.resumeDelayMs ?? 5000)) return false;
    // Also when the record names this server but it holds no state (its rotation file was lost): nobody else would act.
    const st = this.o.bundle.rotation(this.o.datacenter);
    if (st === undefined || st.phase === 'done') return false;
    const all = this.o.members();
    const gone = all.find((m) => m.name === st.coordinator);
    if (gone !== undefined && gone.name !== this.o.nodeName && (gone.state === 'dead' || gone.state === 'left') &&
      this.o.clock.now() - gone.stateChangedAtMs < (this.o.takeoverGraceMs ?? 15_000)) return false;
    const members = all.map(memberCaView);
    if (electCoordinator(st, members) !== this.o.nodeName) return false;
    const next: RotationState = { ...st, coordinator: this.o.nodeName, term: (st.term ?? 0) + 1 };
    this.staged = this.stagedFromCluster(st);
    this.state = next;
    await this.persist();
    if (!this.o.bundle.write(rotationKey(this.o.datacenter), { type: 'rotation', state: next })) {
      this.state = undefined; // a record of a later term arrived meanwhile: not ours
      return false;
    }
    this.o.logger.warn({ rotation: st.id, phase: st.phase, from: st.coordinator, term: next.term, material: this.staged !== undefined },
      `taking the root rotation over from ${st.coordinator}`);
    this.schedule(0);
    return true;
  }

  /** True when this coordinator holds the new intermediate and its key (it stages and switches itself). */
  get holdsMaterial(): boolean {
    return this.staged !== undefined;
  }

  /** Validates and starts a rotation (or only reports the plan, with `dryRun`). */
  async rotate(req: RotateRequest): Promise<RotateResult> {
    const current = this.o.bundle.rotation(this.o.datacenter);
    if (current !== undefined && current.phase !== 'done') {
      throw refused(`a rotation to root ${current.newRootId.slice(0, 16)} is in progress (phase ${current.phase}, coordinator ${current.coordinator}); see shoal ca status`, 409);
    }
    const staged = req.generate === true ? await this.generate() : this.validate(req);
    const view = this.o.bundle.view();
    const nowMs = this.o.clock.wallNow();
    const servers = this.o.members().map(memberCaView).filter((m) => m.live && m.server && m.datacenter === this.o.datacenter).length;
    const state = startRotation({
      id: certInfo(staged.rootCertPem).skiHex, datacenter: this.o.datacenter, oldRootId: view.activeRootId, newRootId: certInfo(staged.rootCertPem).skiHex,
      intermediateId: staged.signer.intermediateId, coordinator: this.o.nodeName, manual: req.manual === true, startedAtMs: nowMs,
      reissueWindowMs: req.reissueWindowMs ?? reissueWindowMs({
        leaves: this.o.leavesEstimate(), servers, ratePerSec: this.o.ratePerSec, minMs: this.o.minReissueWindowMs,
      }),
      dropGraceMs: req.dropGraceMs ?? 60_000,
    });
    const obs = this.observe(state);
    const blockers = gateBlockers({ ...state, phase: 'confirm-trust' }, obs);
    if (req.dryRun === true) return { dryRun: true, state, blockers };
    this.state = state;
    this.staged = staged;
    this.o.server.stage(staged.signer);
    await this.persist();
    this.o.logger.info({ rotation: state.id, oldRoot: state.oldRootId, intermediate: state.intermediateId, manual: state.manual, reissueWindowMs: state.reissueWindowMs }, 'root rotation started');
    this.schedule(0);
    return { dryRun: false, state, blockers };
  }

  /** Manual mode: moves to the next phase, or refuses naming every blocker. */
  async advance(): Promise<RotationState> {
    await this.standDownIfSuperseded();
    const waitMs = this.resumePendingUntilMs - this.o.clock.now();
    if (this.state !== undefined && waitMs > 0) {
      throw refused(`this server resumed the rotation moments ago and is still learning whether another server took it over; retry in ${Math.ceil(waitMs / 1000)} s`, 409);
    }
    const st = this.requireState();
    const step = requestAdvance(st, this.observe(st));
    if (step.refused !== undefined) throw new CaClientError(CaClientErrorCode.rotationUnsafe, step.refused, 409);
    await this.commit(step.state, step.actions);
    return step.state;
  }

  /** The rotation this coordinator drives, if any. */
  get current(): RotationState | undefined {
    return this.state;
  }

  /** Stops ticking (the rotation resumes on the next start). */
  stop(): void {
    this.stopped = true;
    this.o.clock.clearTimer(this.timer);
  }

  /** One evaluation (also run by tests on a virtual clock). */
  async tick(): Promise<void> {
    this.ticking ??= (async () => {
      try {
        const st = this.state;
        if (st === undefined) return;
        if (await this.standDownIfSuperseded()) return;
        const step = stepRotation(st, this.observe(st));
        await this.commit(step.state, step.actions);
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message }, 'root rotation tick failed; will retry');
      } finally {
        this.ticking = undefined;
      }
    })();
    return this.ticking;
  }

  // ---- internals ----

  /** Stops coordinating when the bundle's record of this rotation names a later term, or another coordinator at ours. */
  private async standDownIfSuperseded(): Promise<boolean> {
    const mine = this.state;
    const rec = this.o.bundle.rotation(this.o.datacenter);
    if (mine === undefined || rec === undefined || rec.id !== mine.id) return false;
    const [t, m] = [rec.term ?? 0, mine.term ?? 0];
    if (t < m || (t === m && rec.coordinator === this.o.nodeName)) return false;
    this.o.logger.warn({ rotation: mine.id, successor: rec.coordinator, term: t, ourTerm: m }, `standing down: ${rec.coordinator} coordinates this root rotation now`);
    this.state = undefined;
    this.o.clock.clearTimer(this.timer);
    // Keep the staged intermediate for hand-off; forget the rotation so a restart does not resume it.
    if (this.o.dataDir !== undefined) await fs.rm(join(this.o.dataDir, ROTATION_FILE), { force: true });
    return true;
  }

  /** Staged material rebuilt from the bundle and this server's signer, for a takeover; undefined when the key is not here. */
  private stagedFromCluster(st: RotationState): Staged | undefined {
    const view = this.o.bundle.view();
    const root = view.roots.find((r) => r.id === st.newRootId);
    const cross = view.intermediates.find((i) => i.ski === st.intermediateId && i.aki === st.oldRootId);
    const own = [this.o.server.current, this.o.server.staged].find((x) => x?.intermediateId === st.intermediateId);
    if (root === undefined || cross === undefined || own === undefined) return undefined;
    return { rootCertPem: root.pem, signer: signerMaterial({ certPem: own.certPem, keyPem: own.keyPem }, [cross.pem]), crossSignedCertPem: cross.pem };
  }

  /** Persists a phase change, publishes the state, performs the phase's actions. */
  private async commit(next: RotationState, actions: readonly RotationAction[]): Promise<void> {
    const advanced = next.phase !== this.state?.phase;
    this.state = next;
    if (advanced) {
      await this.persist();
      this.o.logger.info({ rotation: next.id, phase: next.phase, step: ROTATION_PHASES.indexOf(next.phase) + 1 }, 'root rotation advanced');
    }
    this.o.bundle.write(rotationKey(this.o.datacenter), { type: 'rotation', state: next });
    for (const a of actions) await this.perform(a, next);
    if (next.phase === 'done' && advanced) {
      this.staged = undefined;
      await this.persist();
      this.o.logger.info({ rotation: next.id }, 'root rotation done: old root dropped');
    }
  }

  private async perform(a: RotationAction, st: RotationState): Promise<void> {
    const b = this.o.bundle;
    switch (a) {
      case 'publish-root':
        if (this.staged === undefined) return;
        b.putRoot(st.newRootId, this.staged.rootCertPem);
        b.putIntermediate(st.datacenter, this.staged.signer.certPem);
        b.putIntermediate(st.datacenter, this.staged.crossSignedCertPem);
        return;
      case 'stage-intermediate':
        if (this.staged !== undefined && this.o.server.current.intermediateId !== st.intermediateId) await this.o.server.switchTo(this.staged.signer);
        return;
      case 'activate-root':
        b.write(ACTIVE_KEY, { type: 'active', rootId: st.newRootId });
        return;
      case 'drop-old-root':
        for (const key of oldRootDrops(b.view(), st, this.o.clock.wallNow())) b.write(key, null);
        return;
    }
  }

  private observe(st: RotationState): RotationObservation {
    return {
      nowMs: this.o.clock.wallNow(),
      members: this.o.members().map(memberCaView),
      bundleHasNewRoot: this.o.bundle.rootIds().includes(st.newRootId),
    };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.o.clock.clearTimer(this.timer);
    this.timer = this.o.clock.setTimer(delayMs, () => {
      void this.tick().then(() => {
        if (this.state !== undefined && this.state.phase !== 'done') this.schedule(this.o.tickMs ?? 1000);
      });
    });
  }

  private requireState(): RotationState {
    const rec = this.o.bundle.rotation(this.o.datacenter);
    if (this.state === undefined && rec !== undefined && rec.phase !== 'done' && rec.coordinator !== this.o.nodeName) {
      throw refused(`${rec.coordinator} coordinates this rotation (term ${rec.term ?? 0}); send the request to it`, 409);
    }
    if (this.state === undefined || this.state.phase === 'done') throw refused('no rotation is in progress on this server', 409);
    return this.state;
  }

  /** Checks the operator's material against each other and the bundle. */
  private validate(req: RotateRequest): Staged {
    const need = (v: string | undefined, what: string): string => {
      if (v === undefined || v.trim() === '') throw refused(`${what} is required`);
      return v;
    };
    const rootPem = need(req.rootCertPem, 'RootCert');
    const intPem = need(req.intermediateCertPem, 'IntermediateCert');
    const keyPem = need(req.intermediateKeyPem, 'IntermediateKey');
    const crossPem = need(req.crossSignedCertPem, 'CrossSignedCert');
    const view = this.o.bundle.view();
    const oldRoot = view.roots.find((r) => r.id === view.activeRootId);
    if (oldRoot === undefined) throw refused('the trust bundle has no active root to rotate from');
    const root = parse(rootPem, 'RootCert');
    const rootInfo = info(rootPem, 'RootCert');
    if (!root.ca || rootInfo.akiHex !== '' && rootInfo.akiHex !== rootInfo.skiHex) throw refused('RootCert is not a self-signed CA certificate');
    if (!root.verify(root.publicKey)) throw refused('RootCert is not self-signed');
    if (rootInfo.skiHex === view.activeRootId) throw refused('RootCert is the active root already');
    const td = rootInfo.uriSans.find((u) => u.startsWith('spiffe://'))?.slice('spiffe://'.length);
    if (td !== undefined && td !== this.o.trustDomain) throw refused(`RootCert belongs to trust domain ${td}, not ${this.o.trustDomain}`);
    let signer: SignerMaterial;
    try {
      signer = signerMaterial({ certPem: intPem, keyPem });
    } catch (err) {
      throw refused(`IntermediateCert: ${(err as Error).message}`);
    }
    const int = parse(signer.certPem, 'IntermediateCert');
    if (signer.rootId !== rootInfo.skiHex || !int.verify(root.publicKey)) throw refused('IntermediateCert is not signed by RootCert');
    if (!int.checkPrivateKey(privateKey(keyPem))) throw refused('IntermediateKey does not belong to IntermediateCert');
    const crossInfo = info(crossPem, 'CrossSignedCert');
    const cross = parse(crossPem, 'CrossSignedCert');
    if (crossInfo.skiHex !== signer.intermediateId) throw refused('CrossSignedCert is not a copy of IntermediateCert (different key)');
    if (crossInfo.akiHex !== oldRoot.id || !cross.verify(new X509Certificate(oldRoot.pem).publicKey)) {
      throw refused(`CrossSignedCert is not signed by the active root ${oldRoot.id.slice(0, 16)}`);
    }
    return { rootCertPem: rootPem, signer: signerMaterial({ certPem: signer.certPem, keyPem }, [crossPem]), crossSignedCertPem: crossPem };
  }

  /** Dev mode: new root, intermediate and cross-signed copy, made with the in-memory root. */
  private async generate(): Promise<Staged> {
    const old = this.generatedRoot ?? this.o.devRoot?.();
    if (old === undefined) throw refused('generate is only possible in dev mode, where the agent holds the root key; give the new material instead');
    const clock = this.o.clock;
    const root = await createRoot({ trustDomain: this.o.trustDomain, clock });
    const int = await createIntermediate({ root, datacenter: this.o.datacenter, trustDomain: this.o.trustDomain, clock });
    const cross = await crossSign({ certPem: int.certPem, signer: old, clock });
    this.generatedRoot = root;
    return { rootCertPem: root.certPem, signer: signerMaterial(int, [cross]), crossSignedCertPem: cross };
  }

  private async persist(): Promise<void> {
    if (this.o.dataDir === undefined || this.state === undefined) return;
    const doc = { state: this.state, staged: this.staged };
    await fs.mkdir(join(this.o.dataDir, 'ca'), { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(this.o.dataDir, ROTATION_FILE), `${JSON.stringify(doc)}\n`, 0o600);
  }

  private async load(): Promise<{ state: RotationState; staged: Staged | undefined } | undefined> {
    if (this.o.dataDir === undefined) return undefined;
    try {
      const doc = JSON.parse(await fs.readFile(join(this.o.dataDir, ROTATION_FILE), 'utf8')) as { state: RotationState; staged?: Staged };
      return { state: doc.state, staged: doc.staged ?? undefined };
    } catch {
      return undefined;
    }
  }
}

/**
 * Keys step 5 tombstones: this cluster's intermediates issued by the old root (the old intermediate
 * and the cross-signed copy), and the old root itself unless an unexpired intermediate of another
 * cluster still chains to it. The bundle is shared across clusters (WAN), and clusters rotate one at
 * a time: the root goes with the last cluster's step 5, never from under a cluster still using it.
 */
export function oldRootDrops(view: BundleView, st: RotationState, nowMs: number): string[] {
  const fromOld = view.intermediates.filter((i) => i.aki === st.oldRootId);
  const keys = fromOld.filter((i) => i.datacenter === st.datacenter).map((i) => intermediateKey(i.datacenter, i.ski, i.aki));
  const stillUsed = fromOld.some((i) => i.datacenter !== st.datacenter && i.notAfterMs > nowMs);
  if (!stillUsed && view.roots.some((r) => r.id === st.oldRootId)) keys.push(rootKey(st.oldRootId));
  return keys;
}

/** `shoal ca status` for this cluster, from the bundle and gossip tags (any agent can answer). */
export function caStatus(bundle: TrustBundleStore, members: readonly Member[], datacenter: string, nowMs: number): CaStatus {
  const view = bundle.view();
  const st = bundle.rotation(datacenter);
  const views = members.map(memberCaView);
  const newRoot = tagRootId(st?.newRootId ?? view.activeRootId);
  const rotation = st === undefined ? undefined : {
    ...st, step: Math.min(5, ROTATION_PHASES.indexOf(st.phase) + 1),
    blockers: gateBlockers(st, { nowMs, members: views, bundleHasNewRoot: view.roots.some((r) => r.id === st.newRootId) }),
  };
  return {
    datacenter, trustDomain: view.trustDomain, activeRootId: view.activeRootId, rootIds: view.roots.map((r) => r.id), rotation,
    members: members.map((m, i) => {
      const v = views[i]!;
      return {
        name: m.name, state: m.state, server: v.server, participates: v.participates, trustedRoots: [...v.trust], leavesRoot: v.leaves,
        signerRoot: v.signerRoot, trustsNewRoot: v.trust.includes(newRoot), signsUnderNewRoot: v.server ? v.signerRoot === newRoot : undefined,
        leavesUnderNewRoot: v.leaves === newRoot,
      };
    }),
  };
}

function refused(message: string, status = 400): CaClientError {
  return new CaClientError(CaClientErrorCode.rotationRefused, message, status);
}

function parse(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch {
    throw refused(`${what} is not a PEM certificate`);
  }
}

function info(pem: string, what: string): ReturnType<typeof certInfo> {
  try {
    return certInfo(pem);
  } catch {
    throw refused(`${what} is not a PEM certificate`);
  }
}

function privateKey(pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    throw refused('IntermediateKey is not a PEM private key');
  }
}
