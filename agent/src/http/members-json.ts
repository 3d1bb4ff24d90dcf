/**
 * Members in Consul's `/v1/agent/members` shape, so Consul clients and habits keep working, plus a
 * `State` field carrying Shoal's own state string (Consul folds suspect into alive).
 */
import type { Member } from '../gossip/member';
import type { MemberState } from '../gossip/messages';
import { PROTOCOL_VERSION } from '../gossip/messages';
import { splitHostPort } from '../transport/transport';

/** serf's member status codes as Consul reports them. */
export const SerfStatus = { none: 0, alive: 1, leaving: 2, left: 3, failed: 4 } as const;

/** Consul maps memberlist's suspect to serf's alive: a suspect member has not been declared failed. */
const STATUS: Readonly<Record<MemberState, number>> = {
  alive: SerfStatus.alive,
  suspect: SerfStatus.alive,
  dead: SerfStatus.failed,
  left: SerfStatus.left,
};

/** One member as `/v1/agent/members` returns it. */
export interface MemberJson {
  Name: string;
  Addr: string;
  Port: number;
  Tags: Record<string, string>;
  Status: number;
  ProtocolMin: number;
  ProtocolMax: number;
  ProtocolCur: number;
  DelegateMin: number;
  DelegateMax: number;
  DelegateCur: number;
  /** Shoal's state: alive, suspect, dead or left (not in Consul). */
  State: MemberState;
}

/** Converts a member snapshot. */
export function memberJson(m: Member): MemberJson {
  let host = m.addr;
  let port = 0;
  try {
    ({ host, port } = splitHostPort(m.addr));
  } catch {
    // Addresses were validated when the member was learnt; keep the raw string if not.
  }
  return {
    Name: m.name,
    Addr: host,
    Port: port,
    Tags: { ...m.tags },
    Status: STATUS[m.state],
    ProtocolMin: 1,
    ProtocolMax: PROTOCOL_VERSION,
    ProtocolCur: m.protocol,
    // The delegate (catalog) protocol is versioned with the gossip protocol for now.
    DelegateMin: 1,
    DelegateMax: PROTOCOL_VERSION,
    DelegateCur: m.protocol,
    State: m.state,
  };
}
