/**
 * The CA's gossip tags (names from the CA contract, ca/src/api.ts) and how other members' tags are
 * read back: which members are CA servers and where their gRPC port is, and each member's progress
 * in a root rotation.
 *
 * Root ids in tags are the first 16 hex characters (64 bits) of the SKI. The whole tag set of a
 * member must fit memberlist's 512 bytes; with full 40-character ids, a member with 64-character
 * datacenter, region and zone names went to 551 bytes during a rotation (two roots in `ca_trust`),
 * and a refused tag update would stall the rotation. 64 bits cannot collide among the handful of
 * roots a trust domain ever has.
 */
import { CA_PORT_TAG, CA_ROOT_TAG, LEAVES_ROOT_TAG, TRUSTED_ROOTS_TAG } from '../../../ca/src';
import { isServerTags } from '../agent/tags';
import type { Member } from '../gossip/member';
import { joinHostPort, splitHostPort } from '../transport/transport';
import type { MemberCaView } from './rotation';

/** Hex characters of a root id carried in tags. */
export const TAG_ID_CHARS = 16;

/** A root id as tags carry it. */
export function tagRootId(id: string): string {
  return id.slice(0, TAG_ID_CHARS);
}

/** What this agent announces about its CA state. */
export interface CaTagState {
  /** Bound gRPC port of the CA server (servers only). */
  grpcPort?: number;
  /** Root the local signer chains to (servers only). */
  signerRootId?: string;
  /** Roots held in the trust bundle. */
  trustedRootIds: readonly string[];
  /** Root every current leaf chains to, '' when none or mixed. */
  leavesRootId: string;
}

/** The CA tags for `state`. */
export function caTags(state: CaTagState): Record<string, string> {
  const tags: Record<string, string> = {
    [TRUSTED_ROOTS_TAG]: state.trustedRootIds.map(tagRootId).sort().join(','),
    [LEAVES_ROOT_TAG]: tagRootId(state.leavesRootId),
  };
  if (state.grpcPort !== undefined) tags[CA_PORT_TAG] = String(state.grpcPort);
  if (state.signerRootId !== undefined) tags[CA_ROOT_TAG] = tagRootId(state.signerRootId);
  return tags;
}

/** A CA server as gossip announces it. */
export interface CaServerEndpoint {
  node: string;
  /** `host:port` of its gRPC CA service. */
  addr: string;
  /** Root it signs under (`ca_root`, a tag id: see tagRootId). */
  rootId: string;
}

/** Alive members that announce a CA port, with the address to dial. Suspect members are skipped: they may be gone. */
export function caServers(members: readonly Member[]): CaServerEndpoint[] {
  const out: CaServerEndpoint[] = [];
  for (const m of members) {
    if (m.state !== 'alive') continue;
    const port = Number(m.tags[CA_PORT_TAG]);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) continue;
    try {
      out.push({ node: m.name, addr: joinHostPort(splitHostPort(m.addr).host, port), rootId: m.tags[CA_ROOT_TAG] ?? '' });
    } catch {
      // a member with a malformed address cannot be dialled
    }
  }
  return out;
}

/** A member's rotation-relevant state from its tags. */
export function memberCaView(m: Member): MemberCaView {
  const trust = m.tags[TRUSTED_ROOTS_TAG];
  return {
    name: m.name,
    live: m.state === 'alive' || m.state === 'suspect',
    server: isServerTags(m.tags),
    datacenter: m.tags['dc'] ?? '',
    participates: trust !== undefined,
    trust: trust === undefined || trust === '' ? [] : trust.split(','),
    leaves: m.tags[LEAVES_ROOT_TAG] ?? '',
    signerRoot: m.tags[CA_ROOT_TAG] ?? '',
  };
}
