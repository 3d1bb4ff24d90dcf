/**
 * The internal surface the memberlist gives its parts (prober, push-pull, queries): configuration,
 * injected clock and randomness, the state machine, and ways to send. Not exported from the gossip
 * package; it only keeps the parts from reaching into each other.
 */
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { Random } from '../core/random';
import type { Transport } from '../transport/transport';
import type { GossipConfig } from './config';
import type { Message } from './messages';
import type { GossipMetrics } from './metrics';
import type { Membership } from './membership';

/** What the memberlist's parts need from it. */
export interface GossipHost {
  readonly cfg: GossipConfig;
  readonly clock: Clock;
  readonly random: Random;
  readonly log: Logger;
  readonly metrics: GossipMetrics;
  readonly transport: Transport;
  readonly membership: Membership;
  /** Our advertised gossip address. */
  localAddr(): string;
  /** Sends messages in one UDP packet, filling the rest of the budget with queued broadcasts. */
  sendPacket(addr: string, msgs: Message[]): void;
  /** Opens a stream, sends one message, and returns the peer's one-message answer (or undefined if `expectReply` is false). */
  exchange(addr: string, msg: Message, timeoutMs: number, expectReply: boolean): Promise<Message | undefined>;
}
