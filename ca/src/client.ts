/**
 * The agent side of `Sign`: one call to one CA server over TLS. The caller picks the server, the
 * credentials and the timeout; this class keeps one gRPC channel per (address, credentials) so
 * renewals reuse connections, and turns every failure into a CaError whose `retryable` says whether
 * trying again (or another server) can help: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED and
 * our own timeout are retryable; refusals (invalid CSR, unauthenticated, forbidden) are not.
 *
 * The server is verified with a custom `checkServerIdentity`: its certificate chains to `caPems` (the
 * TLS layer checks that) and carries exactly one SAN, the SPIFFE ID of an agent in the expected trust
 * domain (and datacenter, if given). Host names are not checked: CA servers are found by gossip at
 * IP addresses, and their leaves carry only the SPIFFE ID.
 */
import { createHash } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../agent/src/core/clock';
import type { SignRequest, SignResponse } from './api';
import { BOOTSTRAP_TOKEN_METADATA, SIGN_METHOD } from './api';
import { CaError, CaLocalErrorCode, type CaErrorCodeValue } from './errors';
import { decodeSignResponse, encodeJson, isDecodeFailure, MAX_RESPONSE_BYTES, parseStatusMessage, RETRYABLE_STATUSES, type DecodeFailure } from './grpc-codec';
import { spiffeIdOfPeer } from './server-auth';
import { parseSpiffeId } from './spiffe';

/** How to authenticate to the server, and how to authenticate it. */
export interface SignAuth {
  /** First contact: the bootstrap token (sent as metadata; never logged). */
  bootstrapToken?: string;
  /** Later: the agent's own leaf (optionally followed by its chain) and key, PEM. */
  clientCertPem?: string;
  clientKeyPem?: string;
  /** Trust bundle roots and intermediates, PEM each, to verify the server. */
  caPems: string[];
  /** The server must present an agent SPIFFE ID in this trust domain... */
  trustDomain: string;
  /** ...and, if given, in this datacenter. */
  datacenter?: string;
}

/** Channels kept at most; the least recently used one is closed beyond this. */
const MAX_CHANNELS = 32;
/** Reconnect backoff: a restarted server is reachable again within seconds, not grpc-js's 2 minutes. */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.max_receive_message_length': MAX_RESPONSE_BYTES,
  'grpc.initial_reconnect_backoff_ms': 500,
  'grpc.max_reconnect_backoff_ms': 5000,
  // SNI name. Servers are dialled by IP, and Node deprecates an IP as ServerName (DEP0123); the server
  // ignores SNI and checkServerIdentity checks the SPIFFE ID, so any fixed DNS-shaped name does.
  'grpc.ssl_target_name_override': 'ca.shoal.internal',
};

/** A Node `checkServerIdentity` that accepts exactly an agent of `trustDomain` (and `datacenter`). */
export function serverIdentityChecker(trustDomain: string, datacenter?: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => {
    const uri = spiffeIdOfPeer(cert.subjectaltname);
    if (uri === undefined) return new Error('CA server certificate must carry exactly one SAN, a SPIFFE ID');
    try {
      const id = parseSpiffeId(uri);
      if (id.kind !== 'agent') return new Error(`CA server presented ${uri}, not an agent identity`);
      if (id.trustDomain !== trustDomain) return new Error(`CA server presented ${uri}, not in trust domain ${trustDomain}`);
      if (datacenter !== undefined && id.datacenter !== datacenter) return new Error(`CA server presented ${uri}, not in datacenter ${datacenter}`);
      return undefined;
    } catch (err) {
      return new Error(`CA server certificate: ${(err as Error).message}`);
    }
  };
}

/** Maps a gRPC failure to a CaError. `timedOut`: we cancelled the call at our own deadline. */
export function caErrorOfStatus(err: Partial<grpc.ServiceError>, timedOut: boolean): CaError {
  const status = err.code ?? grpc.status.UNKNOWN;
  if (timedOut) return new CaError(CaLocalErrorCode.timeout, 'no answer from the CA server in time', true, grpc.status.DEADLINE_EXCEEDED);
  const { code, message } = parseStatusMessage(err.details ?? err.message ?? '');
  const retryable = RETRYABLE_STATUSES.has(status);
  if (code !== undefined) return new CaError(code as CaErrorCodeValue, message, retryable, status);
  if (status === grpc.status.UNAVAILABLE) return new CaError(CaLocalErrorCode.unavailable, `CA server unavailable: ${message}`, true, status);
  if (status === grpc.status.DEADLINE_EXCEEDED) return new CaError(CaLocalErrorCode.timeout, `deadline exceeded: ${message}`, true, status);
  return new CaError(CaLocalErrorCode.internal, `gRPC status ${grpc.status[status] ?? status}: ${message}`, retryable, status);
}

/** Sends `Sign` requests to CA servers. */
export class CaGrpcClient {
  private readonly clock: Clock;
  /** Insertion order is use order (re-inserted on use): the first entry is the least recently used. */
  private readonly channels = new Map<string, grpc.Client>();

  constructor(opts: { clock: Clock }) {
    this.clock = opts.clock;
  }

  /** Asks the server at `addr` ("host:port") to sign `req`; rejects with CaError. */
  sign(addr: string, req: SignRequest, auth: SignAuth, timeoutMs: number): Promise<SignResponse> {
    let client: grpc.Client;
    try {
      client = this.channelFor(addr, auth);
    } catch (err) {
      return Promise.reject(err instanceof CaError ? err : new CaError(CaLocalErrorCode.material, `client TLS: ${(err as Error).message}`));
    }
    const metadata = new grpc.Metadata();
    if (auth.bootstrapToken !== undefined) metadata.set(BOOTSTRAP_TOKEN_METADATA, auth.bootstrapToken);
    return new Promise<SignResponse>((resolve, reject) => {
      let timedOut = false;
      const call = client.makeUnaryRequest<SignRequest, SignResponse | DecodeFailure>(
        SIGN_METHOD,
        (r) => encodeJson(r),
        decodeSignResponse,
        req,
        metadata,
        {},
        (err, res) => {
          this.clock.clearTimer(timer);
          if (err) return reject(caErrorOfStatus(err, timedOut));
          if (res === undefined || res === null) return reject(new CaError(CaLocalErrorCode.badResponse, 'empty response'));
          if (isDecodeFailure(res)) return reject(new CaError(CaLocalErrorCode.badResponse, res.decodeError));
          resolve(res);
        },
      );
      // The deadline runs on the injected clock (grpc-js deadlines read the real one).
      const timer = this.clock.setTimer(timeoutMs, () => {
        timedOut = true;
        call.cancel();
      });
    });
  }

  /** Closes every channel. The client stays usable: the next call opens a new one. */
  close(): void {
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
  }

  private channelFor(addr: string, auth: SignAuth): grpc.Client {
    const key = `${addr}|${createHash('sha256')
      .update(JSON.stringify([auth.clientCertPem ?? '', auth.clientKeyPem ?? '', auth.caPems, auth.trustDomain, auth.datacenter ?? '']))
      .digest('hex')}`;
    let existing = this.channels.get(key);
    // A channel in TRANSIENT_FAILURE waits out gRPC's reconnect backoff (up to 5 s) and fails every
    // call fast meanwhile. Callers ask only servers that gossip shows alive, so such a channel most
    // likely points at a server that has just come back: a new channel dials it at once (and a server
    // that is really down still fails fast, with the connection refused).
    if (existing !== undefined && existing.getChannel().getConnectivityState(false) === grpc.connectivityState.TRANSIENT_FAILURE) {
      existing.close();
      this.channels.delete(key);
      existing = undefined;
    }
    if (existing !== undefined) {
      this.channels.delete(key);
      this.channels.set(key, existing);
      return existing;
    }
    // New credentials for this address (a renewed leaf, a new bundle) retire the old channel.
    for (const [k, c] of this.channels) {
      if (k.startsWith(`${addr}|`)) {
        c.close();
        this.channels.delete(k);
      }
    }
    if ((auth.clientCertPem === undefined) !== (auth.clientKeyPem === undefined)) {
      throw new CaError(CaLocalErrorCode.material, 'clientCertPem and clientKeyPem go together');
    }
    const creds = grpc.credentials.createSsl(
      Buffer.from(auth.caPems.join('\n')),
      auth.clientKeyPem === undefined ? null : Buffer.from(auth.clientKeyPem),
      auth.clientCertPem === undefined ? null : Buffer.from(auth.clientCertPem),
      { checkServerIdentity: serverIdentityChecker(auth.trustDomain, auth.datacenter) },
    );
    const client = new grpc.Client(addr, creds, CHANNEL_OPTIONS);
    this.channels.set(key, client);
    if (this.channels.size > MAX_CHANNELS) {
      const [oldestKey, oldest] = this.channels.entries().next().value as [string, grpc.Client];
      oldest.close();
      this.channels.delete(oldestKey);
    }
    return client;
  }
}
