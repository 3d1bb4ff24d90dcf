/**
 * Gossip tunables, one typed object with documented defaults. The values follow hashicorp/memberlist
 * (`DefaultLANConfig`, `DefaultWANConfig`, `DefaultLocalConfig`) so operators who tuned Consul can
 * carry their numbers over; the WAN and local profiles copy the LAN one and override what differs.
 */

/** Every knob of the SWIM + Lifeguard implementation. Durations are milliseconds. */
export interface GossipConfig {
  /** This member's unique name (the node name). */
  nodeName: string;
  /**
   * Carried in every packet and stream frame (authenticated when encryption is on); packets with a
   * different label are dropped, so two clusters' pools never merge by accident. The cluster name.
   */
  label: string;
  /** Time between probes of one member: 1000 ms LAN. Scaled by (health score + 1) under Lifeguard. */
  probeIntervalMs: number;
  /** How long to wait for a direct ack before indirect probes: 500 ms LAN (about the 99th pct RTT). */
  probeTimeoutMs: number;
  /** Members asked to probe indirectly on a missed ack: 3 (SWIM's k). */
  indirectChecks: number;
  /**
   * Suspicion timeout multiplier: min timeout = suspicionMult x log10(max(1, N)) x probeIntervalMs,
   * where N is the number of alive members (memberlist's suspicionTimeout). 4 LAN.
   */
  suspicionMult: number;
  /** Lifeguard: the initial suspicion timeout is suspicionMaxTimeoutMult x the min timeout. 6. */
  suspicionMaxTimeoutMult: number;
  /** Each broadcast is sent at most retransmitMult x ceil(log10(N + 1)) times. 4 LAN. */
  retransmitMult: number;
  /** Time between gossip rounds (piggybacked broadcasts to random members): 200 ms LAN. */
  gossipIntervalMs: number;
  /** Random members gossiped to each round: 3 LAN. */
  gossipNodes: number;
  /** Dead members keep receiving gossip this long, so a wrongly dead one learns and refutes: 30 s LAN. */
  gossipToTheDeadMs: number;
  /** Time between full-state TCP push-pulls with one random member: 30 s LAN (0 disables). */
  pushPullIntervalMs: number;
  /** Deadline for a stream exchange (push-pull, TCP ping): 10 s LAN. */
  tcpTimeoutMs: number;
  /** Lifeguard local health: the score ranges over [0, awarenessMaxMultiplier - 1]; 8. */
  awarenessMaxMultiplier: number;
  /** Skip the TCP fallback ping after a missed UDP ack (for networks that firewall the stream port). */
  disableTcpPings: boolean;
  /** Largest UDP payload we build, leaving room for IP/UDP headers under a 1500 byte MTU: 1400. */
  udpBufferSize: number;
  /** Bounded receive queue depth (memberlist's HandoffQueueDepth); excess non-membership input is dropped: 1024. */
  handoffQueueDepth: number;
  /** Largest encoded tag set a member may announce: 512 bytes (memberlist's MetaMaxSize). */
  maxTagsBytes: number;
  /** Dead (failed) members stay listed this long before they are reaped: 72 h (Consul's reconnect_timeout). */
  deadReapMs: number;
  /** Left members stay listed this long before they are reaped: 72 h (serf's tombstone timeout order). */
  leftReapMs: number;
  /** Time between attempts to reach one random failed member, healing partitions: 30 s (serf). */
  reconnectIntervalMs: number;
  /** After broadcasting our leave, wait this long for it to spread before shutting down: 1 s. */
  leavePropagateDelayMs: number;
  /** Accept only encrypted input when a keyring is installed (turn off while enabling encryption live). */
  gossipVerifyIncoming: boolean;
  /** Encrypt output when a keyring is installed (turn off while enabling encryption live). */
  gossipVerifyOutgoing: boolean;
}

/** memberlist's LAN profile: a single data center with sub-millisecond links. */
export function defaultLanConfig(nodeName = 'node', label = 'dc1'): GossipConfig {
  return {
    nodeName,
    label,
    probeIntervalMs: 1000,
    probeTimeoutMs: 500,
    indirectChecks: 3,
    suspicionMult: 4,
    suspicionMaxTimeoutMult: 6,
    retransmitMult: 4,
    gossipIntervalMs: 200,
    gossipNodes: 3,
    gossipToTheDeadMs: 30_000,
    pushPullIntervalMs: 30_000,
    tcpTimeoutMs: 10_000,
    awarenessMaxMultiplier: 8,
    disableTcpPings: false,
    udpBufferSize: 1400,
    handoffQueueDepth: 1024,
    maxTagsBytes: 512,
    deadReapMs: 72 * 3600_000,
    leftReapMs: 72 * 3600_000,
    reconnectIntervalMs: 30_000,
    leavePropagateDelayMs: 1000,
    gossipVerifyIncoming: true,
    gossipVerifyOutgoing: true,
  };
}

/** memberlist's WAN profile: links between regions, higher latency and more loss. */
export function defaultWanConfig(nodeName = 'node', label = 'wan'): GossipConfig {
  return {
    ...defaultLanConfig(nodeName, label),
    tcpTimeoutMs: 30_000,
    suspicionMult: 6, // more time before declaring a member dead across regions
    pushPullIntervalMs: 60_000,
    probeTimeoutMs: 3000, // WAN round trips can reach hundreds of ms, with loss
    probeIntervalMs: 5000,
    gossipNodes: 4, // gossip less often but to more members
    gossipIntervalMs: 500,
    gossipToTheDeadMs: 60_000,
  };
}

/** memberlist's local profile: loopback or one host, fast links, quick detection (tests, dev mode). */
export function defaultLocalConfig(nodeName = 'node', label = 'dc1'): GossipConfig {
  return {
    ...defaultLanConfig(nodeName, label),
    tcpTimeoutMs: 1000,
    indirectChecks: 1,
    retransmitMult: 2,
    suspicionMult: 3,
    pushPullIntervalMs: 15_000,
    probeTimeoutMs: 200,
    probeIntervalMs: 1000,
    gossipIntervalMs: 100,
    gossipToTheDeadMs: 15_000,
  };
}

/** A problem found in a gossip configuration: which field and what was expected. */
export interface ConfigProblem {
  field: keyof GossipConfig;
  message: string;
}

/** Checks every field and returns all problems (empty when valid). Field names are camelCase here. */
export function validateGossipConfig(c: GossipConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const positive: (keyof GossipConfig)[] = [
    'probeIntervalMs', 'probeTimeoutMs', 'suspicionMult', 'suspicionMaxTimeoutMult', 'retransmitMult',
    'gossipIntervalMs', 'gossipNodes', 'tcpTimeoutMs', 'awarenessMaxMultiplier', 'handoffQueueDepth',
    'maxTagsBytes', 'reconnectIntervalMs',
  ];
  const nonNegative: (keyof GossipConfig)[] = [
    'indirectChecks', 'gossipToTheDeadMs', 'pushPullIntervalMs', 'deadReapMs', 'leftReapMs', 'leavePropagateDelayMs',
  ];
  for (const f of positive) {
    const v = c[f];
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) problems.push({ field: f, message: 'expected a positive number' });
  }
  for (const f of nonNegative) {
    const v = c[f];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) problems.push({ field: f, message: 'expected a number >= 0' });
  }
  if (!(c.udpBufferSize >= 576 && c.udpBufferSize <= 65_000)) {
    problems.push({ field: 'udpBufferSize', message: 'expected 576 to 65000 bytes' });
  }
  if (c.probeTimeoutMs >= c.probeIntervalMs) {
    problems.push({ field: 'probeTimeoutMs', message: `expected less than probeIntervalMs (${c.probeIntervalMs})` });
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(c.nodeName)) {
    problems.push({ field: 'nodeName', message: 'expected 1-128 characters of letters, digits, "-", "_" or "."' });
  }
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(c.label)) {
    problems.push({ field: 'label', message: 'expected 1-64 characters of letters, digits, "-", "_" or "."' });
  }
  return problems;
}
