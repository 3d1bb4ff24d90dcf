/**
 * `/v1/connect/ca/*` and `/v1/agent/connect/*`: the CA roots and this agent's leaves in Consul's
 * shapes (CARootList, IssuedCert), intention checks (`authorize`), and Shoal's root rotation and
 * status endpoints. Roots and leaves are blocking queries on `X-Consul-Index`.
 *
 * Shoal additions: `PUT /v1/agent/connect/ca/renew` (renew every leaf of this agent now),
 * `PUT /v1/connect/ca/rotate` (start or dry-run a root rotation on a server),
 * `PUT /v1/connect/ca/rotate/advance` (next step of a manual rotation) and `GET /v1/connect/ca/status`.
 */
import type { AuthorizeResult, CaChange, CaStatus, LeafView, RotateRequest, RotateResult, RootsView, RotationState } from '../ca-client';
import { parseDurationMs } from '../config/duration';
import type { Clock } from '../core/clock';
import type { Random } from '../core/random';
import { blockingRead } from './blocking';
import { badRequest } from './errors';
import { assertLeafAccess } from './leaf-access';
import type { ApiReply, ApiRequest, Route } from './router';

/** What the connect routes need from the agent's CA (CaLayer implements it). */
export interface ConnectCa {
  rootsIndex(): number;
  subscribeRoots(fn: () => void): () => void;
  roots(): RootsView;
  /** Throws a 403 error unless the service is registered on this agent. */
  assertLocal(service: string): void;
  /** Waits for (and issues if needed) a local service's leaf; throws 403 or 503. */
  serviceLeaf(service: string): Promise<LeafView>;
  leafFor(service: string): LeafView | undefined;
  leafIndex(service: string): number;
  subscribe(fn: (c: CaChange) => void): () => void;
  authorize(target: string, clientCertUri: string): AuthorizeResult;
  renewAll(): Promise<Array<{ spiffeId: string; serialHex: string; notAfterMs: number }>>;
  rotate(req: RotateRequest): Promise<RotateResult>;
  advanceRotation(): Promise<RotationState>;
  status(): CaStatus;
}

/** What the routes need. */
export interface ConnectRouteDeps {
  connect: ConnectCa;
  /** `acl_agent_token`; see leaf-access.ts. */
  agentToken?: string;
  clock: Clock;
  random: Random;
}

/** The connect endpoints. */
export function connectRoutes(deps: ConnectRouteDeps): Route[] {
  const ca = deps.connect;
  const rootsSource = { index: () => Math.max(1, ca.rootsIndex()), subscribe: (fn: () => void) => ca.subscribeRoots(fn) };
  const roots = (req: ApiRequest): Promise<ApiReply> => blockingRead(req, rootsSource, deps, () => {
    const v = ca.roots();
    if (req.flag('pem')) return { raw: { contentType: 'text/plain; charset=utf-8', data: v.roots.map((r) => ensureNewline(r.pem)).join('') } };
    return { body: rootsJson(v, ca.rootsIndex()) };
  });
  return [
    { method: 'GET', path: '/v1/connect/ca/roots', handler: roots },
    { method: 'GET', path: '/v1/agent/connect/ca/roots', handler: roots },
    {
      method: 'GET',
      path: '/v1/agent/connect/ca/leaf/:service',
      handler: async (req) => {
        assertLeafAccess(req, deps.agentToken);
        const service = req.params['service']!;
        await ca.serviceLeaf(service);
        const source = { index: () => Math.max(1, ca.leafIndex(service)), subscribe: (fn: () => void) => ca.subscribe(fn) };
        return blockingRead(req, source, deps, () => {
          const leaf = ca.leafFor(service);
          if (leaf === undefined) return { status: 503, body: { error: `no valid certificate for ${service} right now`, code: 'SHOAL_ERR_CA_LEAF_UNAVAILABLE' } };
          return { body: leafJson(leaf) };
        });
      },
    },
    {
      method: 'POST',
      path: '/v1/agent/connect/authorize',
      handler: async (req) => {
        const body = obj(await req.json());
        const target = body['Target'];
        const uri = body['ClientCertURI'];
        if (typeof target !== 'string' || target === '') throw badRequest('Target: expected the destination service name');
        if (typeof uri !== 'string' || uri === '') throw badRequest('ClientCertURI: expected the SPIFFE ID of the client certificate');
        const r = ca.authorize(target, uri);
        return { body: { Authorized: r.authorized, Reason: r.reason } };
      },
    },
    {
      method: 'PUT',
      path: '/v1/agent/connect/ca/renew',
      handler: async () => ({ body: { Renewed: (await ca.renewAll()).map((l) => ({ URI: l.spiffeId, SerialNumber: colonHex(l.serialHex), ValidBefore: iso(l.notAfterMs) })) } }),
    },
    {
      method: 'PUT',
      path: '/v1/connect/ca/rotate',
      handler: async (req) => {
        const r = await ca.rotate(rotateRequest(obj(await req.json())));
        return { body: { DryRun: r.dryRun, Rotation: rotationJson(r.state), Blockers: r.blockers.map((b) => ({ Member: b.member, Reason: b.reason })) } };
      },
    },
    {
      method: 'PUT',
      path: '/v1/connect/ca/rotate/advance',
      handler: async () => ({ body: { Rotation: rotationJson(await ca.advanceRotation()) } }),
    },
    { method: 'GET', path: '/v1/connect/ca/status', handler: () => ({ body: statusJson(ca.status()) }) },
  ];
}

/** Consul's CARootList. */
function rootsJson(v: RootsView, index: number): Record<string, unknown> {
  return {
    ActiveRootID: v.activeRootId,
    TrustDomain: v.trustDomain,
    Roots: v.roots.map((r) => ({
      ID: r.id, Name: r.name, SerialNumber: colonHex(r.serialHex), SigningKeyID: colonHex(r.id), ExternalTrustDomain: v.trustDomain,
      NotBefore: iso(r.notBeforeMs), NotAfter: iso(r.notAfterMs), RootCert: r.pem, IntermediateCerts: r.intermediates, Active: r.active,
      PrivateKeyType: 'ec', PrivateKeyBits: 256, CreateIndex: index, ModifyIndex: index,
    })),
  };
}

/** Consul's IssuedCert. */
function leafJson(l: LeafView): Record<string, unknown> {
  return {
    SerialNumber: colonHex(l.serialHex), CertPEM: l.certPem, PrivateKeyPEM: l.keyPem, Service: l.service, ServiceURI: l.spiffeId,
    Agent: l.agentNode, AgentURI: l.agentUri, Kind: '', Namespace: l.namespace, Datacenter: l.datacenter,
    ValidAfter: iso(l.notBeforeMs), ValidBefore: iso(l.notAfterMs), CreateIndex: l.modifyIndex, ModifyIndex: l.modifyIndex,
  };
}

function rotationJson(s: RotationState): Record<string, unknown> {
  return {
    ID: s.id, Datacenter: s.datacenter, Phase: s.phase, OldRootID: s.oldRootId, NewRootID: s.newRootId, IntermediateID: s.intermediateId,
    Coordinator: s.coordinator, Term: s.term ?? 0, Manual: s.manual, ReissueWindowMs: s.reissueWindowMs, DropGraceMs: s.dropGraceMs,
    StartedAt: iso(s.startedAtMs), PhaseSince: iso(s.phaseSinceMs), FinishedAt: s.finishedAtMs === undefined ? null : iso(s.finishedAtMs),
  };
}

function statusJson(s: CaStatus): Record<string, unknown> {
  return {
    Datacenter: s.datacenter, TrustDomain: s.trustDomain, ActiveRootID: s.activeRootId, RootIDs: s.rootIds,
    Rotation: s.rotation === undefined ? null : {
      ...rotationJson(s.rotation), Step: s.rotation.step, Blockers: s.rotation.blockers.map((b) => ({ Member: b.member, Reason: b.reason })),
    },
    Members: s.members.map((m) => ({
      Name: m.name, Status: m.state, Server: m.server, CA: m.participates, TrustedRoots: m.trustedRoots, LeavesRoot: m.leavesRoot,
      SignerRoot: m.signerRoot, TrustsNewRoot: m.trustsNewRoot, SignsUnderNewRoot: m.signsUnderNewRoot ?? null, LeavesUnderNewRoot: m.leavesUnderNewRoot,
    })),
  };
}

/** The rotate body: PEM fields and options; durations as "30s" or milliseconds. */
function rotateRequest(b: Record<string, unknown>): RotateRequest {
  const pem = (k: string): string | undefined => {
    const v = b[k];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' || v.length > 64 * 1024) throw badRequest(`${k}: expected a PEM string`);
    return v;
  };
  const dur = (k: string): number | undefined => {
    if (b[k] === undefined || b[k] === null) return undefined;
    const ms = parseDurationMs(b[k]);
    if (ms === undefined) throw badRequest(`${k}: expected a duration such as "30s"`);
    return ms;
  };
  return {
    rootCertPem: pem('RootCert'), intermediateCertPem: pem('IntermediateCert'), intermediateKeyPem: pem('IntermediateKey'),
    crossSignedCertPem: pem('CrossSignedCert'), generate: b['Generate'] === true, dryRun: b['DryRun'] === true, manual: b['Manual'] === true,
    reissueWindowMs: dur('ReissueWindow'), dropGraceMs: dur('DropGrace'),
  };
}

function obj(v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest('request body: expected a JSON object');
  return v as Record<string, unknown>;
}

/** `0a:1b:...`, as Consul prints serials and key ids. */
function colonHex(hex: string): string {
  return (hex.match(/../g) ?? []).join(':');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function ensureNewline(p: string): string {
  return p.endsWith('\n') ? p : `${p}\n`;
}
