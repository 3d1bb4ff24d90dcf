/**
 * What the HTTP API shows of the CA, built from the bundle and the leaves; the HTTP layer only
 * renames fields to Consul's PascalCase. Kept here so the HTTP routes need no certificate knowledge.
 */
import type { BundleView } from './trust-bundle';
import type { IssuedLeaf } from './leaf-manager';

/** One root with its intermediates (Consul's CARoot). */
export interface RootView {
  id: string;
  name: string;
  serialHex: string;
  pem: string;
  /** Intermediates and cross-signed copies that chain to this root. */
  intermediates: string[];
  active: boolean;
  notBeforeMs: number;
  notAfterMs: number;
}

/** Consul's CARootList. */
export interface RootsView {
  trustDomain: string;
  activeRootId: string;
  roots: RootView[];
}

/** Consul's IssuedCert. */
export interface LeafView {
  serialHex: string;
  /** The leaf followed by the chain to present with it. */
  certPem: string;
  keyPem: string;
  service: string;
  spiffeId: string;
  agentNode: string;
  agentUri: string;
  datacenter: string;
  namespace: string;
  notBeforeMs: number;
  notAfterMs: number;
  modifyIndex: number;
}

/** The roots as the API shows them. */
export function rootsView(v: BundleView): RootsView {
  return {
    trustDomain: v.trustDomain,
    activeRootId: v.activeRootId,
    roots: v.roots.map((r) => ({
      id: r.id, name: r.subject.replace(/^CN=/, ''), serialHex: r.serialHex, pem: r.pem, active: r.active,
      intermediates: v.intermediates.filter((i) => i.aki === r.id).map((i) => i.pem), notBeforeMs: r.notBeforeMs, notAfterMs: r.notAfterMs,
    })),
  };
}

/** A service leaf as the API shows it; `chain` from chooseChain. */
export function leafView(leaf: IssuedLeaf, chain: readonly string[], agent: { node: string; uri: string }): LeafView {
  const id = leaf.identity;
  return {
    serialHex: leaf.serialHex, certPem: [leaf.certPem, ...chain].map((p) => (p.endsWith('\n') ? p : `${p}\n`)).join(''), keyPem: leaf.keyPem,
    service: id.kind === 'service' ? id.service : id.node, spiffeId: leaf.spiffeId, agentNode: agent.node, agentUri: agent.uri,
    datacenter: id.datacenter, namespace: id.kind === 'service' ? id.namespace : '', notBeforeMs: leaf.notBeforeMs, notAfterMs: leaf.notAfterMs,
    modifyIndex: leaf.modifyIndex,
  };
}
