/**
 * A CA server: the `shoal.ca.v1.CA/Sign` gRPC service a server agent runs when it holds its cluster's
 * intermediate key.
 *
 * TLS and peer authentication in grpc-js (1.14, verified by ca/test/server.test.ts):
 * - `ServerCredentials.createSsl(ca, pairs, false)` sets `requestCert: false`, so the server never asks
 *   for a client certificate and mTLS callers would be indistinguishable from first-contact ones. And
 *   `createSsl(..., true)` rejects first-contact callers, who have no certificate yet.
 * - So the server uses grpc-js's `experimental.createCertificateProviderServerCredentials`, which sets
 *   `requestCert: true` and `rejectUnauthorized: requireClientCertificate` (false here): a client
 *   certificate is asked for, verified against the bundle, and optional.
 * - Per call, `call.getAuthContext()` returns `sslPeerCertificate` only when the socket is
 *   `authorized`, i.e. the client presented a certificate that chains to `caPems`; otherwise `{}`. That
 *   is exactly "authenticated by certificate", and the handler reads the SPIFFE ID from its
 *   `subjectaltname`. A certificate that does not chain is treated as no certificate.
 * - The provider also gives hot swapping (`updateTls`): grpc-js calls `setSecureContext` on the
 *   listening server; new connections use the new certificate and bundle, existing ones are kept.
 *   grpc-js 1.14 passes that function's two provider arguments to the constructor in swapped order
 *   (identity first); one provider serving both the CA and the identity makes the order irrelevant.
 */
import * as grpc from '@grpc/grpc-js';
import type { Clock } from '../../agent/src/core/clock';
import { RateLimitedLog, type Logger } from '../../agent/src/core/logger';
import type { ServiceAuthorizer, SignRequest, SignResponse } from './api';
import { BOOTSTRAP_TOKEN_METADATA, CaErrorCode } from './api';
import { inspectCsr } from './csr';
import { CaError, CaLocalErrorCode } from './errors';
import { caServiceDefinition, isDecodeFailure, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES, STATUS_OF_CODE, statusMessage, type DecodeFailure } from './grpc-codec';
import { TokenBucket } from './rate-limit';
import { authenticate, authorizeRequest, type AuthPolicy } from './server-auth';
import type { LeafSigner } from './signer';

/** The server's own TLS identity and the bundle it verifies client certificates against. */
export interface CaServerTls {
  /** The server agent's leaf (optionally followed by its chain), PEM. */
  certPem: string;
  keyPem: string;
  /** Trust bundle roots and intermediates (and cross-signs), PEM each. */
  caPems: string[];
}

/** Counts every request by outcome with its duration. */
export interface CaServerMetrics {
  request(outcome: string, seconds: number): void;
}

/** Options of a `CaServer`. */
export interface CaServerOptions {
  host: string;
  /** 0 picks a free port; `start()` resolves with the bound one. */
  port: number;
  tls: CaServerTls;
  /** undefined: this server does not sign (answers SHOAL_ERR_CA_NOT_SIGNER, retryable elsewhere). */
  signer: LeafSigner | undefined;
  trustDomain: string;
  datacenter: string;
  /** undefined disables bootstrap on this server. Never logged. */
  bootstrapToken: string | undefined;
  authorize: ServiceAuthorizer;
  /** Consul's csr_max_per_second model; ratePerSec 0 disables limiting. */
  rateLimit: { ratePerSec: number; burst: number };
  clock: Clock;
  logger: Logger;
  metrics?: CaServerMetrics;
}

/** Outcome label per error code, for metrics and logs. */
const OUTCOME_OF_CODE: Readonly<Record<string, string>> = {
  [CaErrorCode.csrInvalid]: 'csr_invalid',
  [CaErrorCode.unauthenticated]: 'unauthenticated',
  [CaErrorCode.forbidden]: 'forbidden',
  [CaErrorCode.rateLimited]: 'rate_limited',
  [CaErrorCode.notSigner]: 'not_signer',
};

/** Hands the current TLS material to grpc-js; `update` swaps it for new connections. */
class TlsMaterialProvider implements grpc.experimental.CertificateProvider {
  private ca: grpc.experimental.CaCertificateUpdate;
  private identity: grpc.experimental.IdentityCertificateUpdate;
  private readonly caListeners = new Set<grpc.experimental.CaCertificateUpdateListener>();
  private readonly identityListeners = new Set<grpc.experimental.IdentityCertificateUpdateListener>();

  constructor(tls: CaServerTls) {
    [this.ca, this.identity] = TlsMaterialProvider.convert(tls);
  }

  private static convert(tls: CaServerTls): [grpc.experimental.CaCertificateUpdate, grpc.experimental.IdentityCertificateUpdate] {
    if (tls.caPems.length === 0) throw new CaError(CaLocalErrorCode.material, 'CA server TLS: caPems is empty');
    return [
      { caCertificate: Buffer.from(tls.caPems.join('\n')) },
      { certificate: Buffer.from(tls.certPem), privateKey: Buffer.from(tls.keyPem) },
    ];
  }

  update(tls: CaServerTls): void {
    [this.ca, this.identity] = TlsMaterialProvider.convert(tls);
    for (const l of this.caListeners) l(this.ca);
    for (const l of this.identityListeners) l(this.identity);
  }

  // grpc-js registers its listener before the watcher that applies the result, so the first update
  // must come asynchronously (its own FileWatcherCertificateProvider also uses process.nextTick).
  addCaCertificateListener(l: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(l);
    process.nextTick(() => this.caListeners.has(l) && l(this.ca));
  }

  removeCaCertificateListener(l: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(l);
  }

  addIdentityCertificateListener(l: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.add(l);
    process.nextTick(() => this.identityListeners.has(l) && l(this.identity));
  }

  removeIdentityCertificateListener(l: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.delete(l);
  }
}

type SignCall = grpc.ServerUnaryCall<SignRequest | DecodeFailure, SignResponse>;

/** The CA's gRPC server. */
export class CaServer {
  private readonly opts: CaServerOptions;
  private readonly policy: AuthPolicy;
  private readonly bucket: TokenBucket;
  private readonly provider: TlsMaterialProvider;
  private readonly logLimiter: RateLimitedLog;
  private readonly log: Logger;
  private signer: LeafSigner | undefined;
  private server: grpc.Server | undefined;

  constructor(opts: CaServerOptions) {
    this.opts = opts;
    this.policy = { trustDomain: opts.trustDomain, datacenter: opts.datacenter, bootstrapToken: opts.bootstrapToken, authorize: opts.authorize };
    this.bucket = new TokenBucket({ ...opts.rateLimit, clock: opts.clock });
    this.provider = new TlsMaterialProvider(opts.tls);
    this.logLimiter = new RateLimitedLog(() => opts.clock.now());
    this.log = opts.logger.child({ component: 'ca-server' });
    this.signer = opts.signer;
  }

  /** Binds and serves; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.server !== undefined) throw new Error('CaServer already started');
    const server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
      'grpc.max_send_message_length': MAX_RESPONSE_BYTES,
    });
    server.addService(caServiceDefinition as unknown as grpc.ServiceDefinition, {
      Sign: (call: SignCall, callback: grpc.sendUnaryData<SignResponse>) => this.handleSign(call, callback),
    });
    const creds = grpc.experimental.createCertificateProviderServerCredentials(this.provider, this.provider, false);
    const host = this.opts.host.includes(':') && !this.opts.host.startsWith('[') ? `[${this.opts.host}]` : this.opts.host;
    this.server = server;
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`${host}:${this.opts.port}`, creds, (err, p) => (err ? reject(err) : resolve(p)));
    });
    this.log.info({ host: this.opts.host, port, signer: this.signer !== undefined }, 'CA server listening');
    return port;
  }

  /** Swaps the server certificate and the client-verification bundle for new connections. */
  updateTls(tls: CaServerTls): void {
    this.provider.update(tls);
  }

  /** Starts, changes or stops signing (undefined: answer SHOAL_ERR_CA_NOT_SIGNER). */
  setSigner(signer: LeafSigner | undefined): void {
    this.signer = signer;
  }

  /** Stops accepting calls; in-flight calls get `graceMs` to finish before connections are cut. */
  async stop(graceMs = 2000): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      const timer = this.opts.clock.setTimer(graceMs, () => {
        server.forceShutdown();
        resolve();
      });
      server.tryShutdown(() => {
        this.opts.clock.clearTimer(timer);
        resolve();
      });
    });
  }

  private handleSign(call: SignCall, callback: grpc.sendUnaryData<SignResponse>): void {
    const started = this.opts.clock.now();
    try {
      const res = this.sign(call);
      this.count('ok', started);
      callback(null, res);
    } catch (err) {
      const caErr = err instanceof CaError ? err : undefined;
      const code = caErr?.code ?? CaLocalErrorCode.internal;
      const outcome = OUTCOME_OF_CODE[code] ?? 'internal';
      this.count(outcome, started);
      const message = caErr?.message ?? 'internal error';
      this.logFailure(outcome, code, message, call.getPeer(), err);
      const details = statusMessage(code, message);
      callback(Object.assign(new Error(details), { code: STATUS_OF_CODE[code] ?? grpc.status.INTERNAL, details }), null);
    }
  }

  /** The request pipeline: cheapest refusals first, the signature last. */
  private sign(call: SignCall): SignResponse {
    if (!this.bucket.take()) {
      throw new CaError(CaErrorCode.rateLimited, `over ${this.opts.rateLimit.ratePerSec} signing requests per second; retry in ${this.bucket.waitMs()} ms`, true);
    }
    const caller = authenticate(peerSubjectAltName(call), bootstrapToken(call), this.policy);
    const req = call.request;
    if (isDecodeFailure(req)) throw new CaError(CaErrorCode.csrInvalid, `bad request: ${req.decodeError}`);
    const signer = this.signer;
    if (signer === undefined) throw new CaError(CaErrorCode.notSigner, 'this server does not sign; ask another server', true);
    const csr = inspectCsr(req.csrPem);
    authorizeRequest(caller, csr.identity, this.policy);
    const res = signer.signInspected(csr, req.ttlMs);
    if (this.log.isLevelEnabled?.('debug') === true) {
      this.log.debug({ id: csr.uri, serial: res.serialHex, notAfterMs: res.notAfterMs, via: caller.kind }, 'signed leaf');
    }
    return res;
  }

  private count(outcome: string, startedMs: number): void {
    this.opts.metrics?.request(outcome, (this.opts.clock.now() - startedMs) / 1000);
  }

  private logFailure(outcome: string, code: string, message: string, peer: string, err: unknown): void {
    const suppressed = this.logLimiter.admit(outcome);
    if (suppressed < 0) return;
    if (outcome === 'internal') {
      this.log.error({ peer, err: (err as Error)?.message, suppressed }, 'CA sign failed on an internal error');
    } else {
      this.log.warn({ peer, code, reason: message, suppressed }, 'CA sign refused');
    }
  }
}

/** The verified client certificate's SAN list, or undefined when none chained to the bundle. */
function peerSubjectAltName(call: SignCall): string | undefined {
  const cert = call.getAuthContext?.()?.sslPeerCertificate;
  if (cert === undefined) return undefined;
  return cert.subjectaltname ?? '';
}

function bootstrapToken(call: SignCall): string | undefined {
  const v = call.metadata.get(BOOTSTRAP_TOKEN_METADATA)[0];
  return typeof v === 'string' ? v : undefined;
}
