/**
 * gRPC checks: the standard health protocol, `grpc.health.v1.Health/Check`, through @grpc/grpc-js.
 * Its two messages are one field each (HealthCheckRequest { string service = 1 },
 * HealthCheckResponse { ServingStatus status = 1 }), so they are encoded by hand here instead of
 * loading a .proto at run time (no protobufjs on the agent's start path). A fresh channel per run,
 * closed after it, as Consul dials per probe; SERVING is passing, anything else critical.
 */
import { Client, credentials, type ServiceError } from '@grpc/grpc-js';
import { abortMessage } from './check-scheduler';
import type { CheckResult, GrpcCheckSpec } from './types';

/** The method path of the standard health check. */
export const HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';

/** HealthCheckResponse.ServingStatus names by number. */
export const SERVING_STATUS: readonly string[] = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'];

/** Encodes HealthCheckRequest { string service = 1 }. */
export function encodeHealthRequest(req: { service: string }): Buffer {
  if (req.service === '') return Buffer.alloc(0);
  const bytes = Buffer.from(req.service, 'utf8');
  return Buffer.concat([Buffer.from([0x0a]), encodeVarint(bytes.length), bytes]);
}

/** Decodes HealthCheckRequest (for test servers and tools). */
export function decodeHealthRequest(buf: Buffer): { service: string } {
  let service = '';
  forEachField(buf, (field, wire, value) => {
    if (field === 1 && wire === 2) service = (value as Buffer).toString('utf8');
  });
  return { service };
}

/** Encodes HealthCheckResponse { enum status = 1 }. */
export function encodeHealthResponse(res: { status: number }): Buffer {
  return res.status === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x08]), encodeVarint(res.status)]);
}

/** Decodes HealthCheckResponse; unknown fields are skipped, as protobuf requires. */
export function decodeHealthResponse(buf: Buffer): { status: number } {
  let status = 0;
  forEachField(buf, (field, wire, value) => {
    if (field === 1 && wire === 0) status = value as number;
  });
  return { status };
}

/** Runs one gRPC health check. */
export function probeGrpc(spec: GrpcCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  const label = `gRPC check ${spec.target}${spec.service === '' ? '' : `/${spec.service}`}`;
  if (signal.aborted) return Promise.resolve({ status: 'critical', output: `${label}: ${abortMessage(signal)}` });
  const creds = spec.useTls ? credentials.createSsl(null, null, null, { rejectUnauthorized: !spec.tlsSkipVerify }) : credentials.createInsecure();
  const options: Record<string, string | number> = { 'grpc.enable_retries': 0 };
  if (spec.useTls && spec.tlsServerName !== '') {
    options['grpc.ssl_target_name_override'] = spec.tlsServerName;
    options['grpc.default_authority'] = spec.tlsServerName;
  }
  const client = new Client(spec.target, creds, options);
  return new Promise<CheckResult>((resolve) => {
    const call = client.makeUnaryRequest(
      HEALTH_CHECK_PATH,
      encodeHealthRequest,
      decodeHealthResponse,
      { service: spec.service },
      (err: ServiceError | null, res?: { status: number }) => {
        signal.removeEventListener('abort', onAbort);
        if (err !== null) {
          const why = signal.aborted ? abortMessage(signal) : `${err.code} ${err.details || err.message}`;
          resolve({ status: 'critical', output: `${label}: ${why}` });
          return;
        }
        const status = res?.status ?? 0;
        const name = SERVING_STATUS[status] ?? String(status);
        resolve({ status: status === 1 ? 'passing' : 'critical', output: `${label}: ${name}` });
      },
    );
    const onAbort = (): void => call.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
  }).finally(() => client.close());
}

function encodeVarint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** Walks protobuf fields; stops quietly at malformed input (a peer's bytes never throw). */
function forEachField(buf: Buffer, fn: (field: number, wire: number, value: number | Buffer) => void): void {
  let pos = 0;
  const varint = (): number | undefined => {
    let result = 0;
    for (let shift = 0; shift < 64 && pos < buf.length; shift += 7) {
      const b = buf[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    return undefined;
  };
  while (pos < buf.length) {
    const key = varint();
    if (key === undefined) return;
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const v = varint();
      if (v === undefined) return;
      fn(field, wire, v);
    } else if (wire === 2) {
      const len = varint();
      if (len === undefined || pos + len > buf.length) return;
      fn(field, wire, buf.subarray(pos, pos + len));
      pos += len;
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
    } else {
      return;
    }
  }
}
