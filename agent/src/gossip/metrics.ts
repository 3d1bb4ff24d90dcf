/**
 * What the gossip layer reports. The agent binds these to prom-client; simulations count them in
 * memory. Members-by-state and the health score are read at scrape time from the memberlist itself.
 */

/** Why an inbound packet or stream frame was dropped; stable strings used as metric labels. */
export type DropReason =
  | 'malformed' // did not decode as a gossip message
  | 'truncated' // shorter than its header or a length field says
  | 'oversize' // larger than the packet or frame bound
  | 'label' // carried another cluster's label
  | 'decrypt' // failed authentication with every installed key
  | 'unencrypted' // plain input while encryption is required (gossip_verify_incoming)
  | 'encrypted' // encrypted input while we have no keyring
  | 'replay' // an encrypted packet we have already accepted
  | 'version' // a wire version we do not speak
  | 'crc' // checksum mismatch on an unencrypted packet
  | 'queue_full' // receive queue full (non-membership messages only)
  | 'invalid' // decoded, but the content breaks a protocol rule (bad name, oversized tags, ...)
  | 'unexpected'; // a message type that is not valid where it arrived

/** Counters and observations emitted by the gossip layer. */
export interface GossipMetrics {
  /** One decoded message received, by type, with its encoded size in bytes. */
  messageIn(type: string, bytes: number): void;
  /** One message sent, by type, with its encoded size in bytes. */
  messageOut(type: string, bytes: number): void;
  /** Raw bytes on the wire, by direction and channel, after framing and encryption. */
  wireBytes(direction: 'in' | 'out', channel: 'udp' | 'tcp', bytes: number): void;
  /** One packet or frame dropped. */
  dropped(reason: DropReason, channel: 'udp' | 'tcp'): void;
  /** Round trip of a successful direct probe, in milliseconds. */
  probeRtt(ms: number): void;
  /** A member we knew as alive became suspect. */
  suspicion(): void;
  /** We refuted a suspicion or death about ourselves by raising our incarnation. */
  refutation(): void;
  /** A member became dead (failed), not left. */
  failure(): void;
}

/** Metrics that go nowhere. */
export const noopGossipMetrics: GossipMetrics = {
  messageIn: () => {},
  messageOut: () => {},
  wireBytes: () => {},
  dropped: () => {},
  probeRtt: () => {},
  suspicion: () => {},
  refutation: () => {},
  failure: () => {},
};
