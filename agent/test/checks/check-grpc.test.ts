import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Server, ServerCredentials, status as grpcStatus, type sendUnaryData, type ServerUnaryCall, type ServiceDefinition } from '@grpc/grpc-js';
import { selfSigned } from './tls-helper';
import {
  decodeHealthRequest, decodeHealthResponse, encodeHealthRequest, encodeHealthResponse, HEALTH_CHECK_PATH, probeGrpc, type GrpcCheckSpec,
} from '../../src/checks';

/** Service name -> ServingStatus number; absent names get NOT_FOUND, as the reference server does. */
const statuses = new Map<string, number>([['', 1], ['web', 1], ['db', 2]]);
let server: Server;
let target = '';
let tlsTarget = '';

before(async () => {
  server = new Server();
  const definition: ServiceDefinition = {
    Check: {
      path: HEALTH_CHECK_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: encodeHealthRequest,
      requestDeserialize: decodeHealthRequest,
      responseSerialize: encodeHealthResponse,
      responseDeserialize: decodeHealthResponse,
    },
  };
  server.addService(definition, {
    Check: (call: ServerUnaryCall<{ service: string }, { status: number }>, cb: sendUnaryData<{ status: number }>) => {
      const s = statuses.get(call.request.service);
      if (s === undefined) cb({ code: grpcStatus.NOT_FOUND, details: 'unknown service' });
      else cb(null, { status: s });
    },
  });
  const bind = (creds: ServerCredentials): Promise<number> => new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p)));
  });
  target = `127.0.0.1:${await bind(ServerCredentials.createInsecure())}`;
  const { cert, key } = await selfSigned('grpc.internal');
  tlsTarget = `127.0.0.1:${await bind(ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(cert), private_key: Buffer.from(key) }]))}`;
});
after(() => server.forceShutdown());

function spec(service: string, t = target): GrpcCheckSpec {
  return { type: 'grpc', target: t, service, useTls: false, tlsSkipVerify: false, tlsServerName: '' };
}

const live = (): AbortSignal => new AbortController().signal;

test('grpc: the two messages encode as protobuf does', () => {
  assert.deepEqual(encodeHealthRequest({ service: 'web' }), Buffer.from([0x0a, 3, 0x77, 0x65, 0x62]));
  assert.deepEqual(encodeHealthRequest({ service: '' }), Buffer.alloc(0));
  assert.deepEqual(encodeHealthResponse({ status: 2 }), Buffer.from([0x08, 2]));
  assert.deepEqual(decodeHealthResponse(Buffer.from([0x08, 1])), { status: 1 });
  // Unknown fields are skipped; truncated input does not throw.
  assert.deepEqual(decodeHealthResponse(Buffer.from([0x12, 2, 0x61, 0x62, 0x08, 3])), { status: 3 });
  assert.deepEqual(decodeHealthResponse(Buffer.from([0x08])), { status: 0 });
  assert.deepEqual(decodeHealthRequest(encodeHealthRequest({ service: 'a/b' })), { service: 'a/b' });
});

test('grpc: SERVING is passing, for the server and for a named service', async () => {
  assert.deepEqual(await probeGrpc(spec(''), live()), { status: 'passing', output: `gRPC check ${target}: SERVING` });
  assert.deepEqual(await probeGrpc(spec('web'), live()), { status: 'passing', output: `gRPC check ${target}/web: SERVING` });
});

test('grpc: NOT_SERVING, an unknown service and an unreachable server are critical', async () => {
  assert.deepEqual(await probeGrpc(spec('db'), live()), { status: 'critical', output: `gRPC check ${target}/db: NOT_SERVING` });
  const unknown = await probeGrpc(spec('nope'), live());
  assert.equal(unknown.status, 'critical');
  assert.match(unknown.output, /5 unknown service/);
  const down = await probeGrpc(spec('', '127.0.0.1:1'), live());
  assert.equal(down.status, 'critical');
  assert.match(down.output, /^gRPC check 127\.0\.0\.1:1: 14 /); // UNAVAILABLE
});

test('grpc: an aborted run is cancelled and critical', async () => {
  const ctl = new AbortController();
  const pending = probeGrpc(spec('web'), ctl.signal);
  ctl.abort(new Error('timed out after 10s'));
  const r = await pending;
  assert.equal(r.status, 'critical');
  assert.match(r.output, /timed out after 10s/);
});

test('grpc: grpc_use_tls speaks TLS; a self-signed server passes only with tls_skip_verify', async () => {
  const tls = { ...spec('web', tlsTarget), useTls: true, tlsServerName: 'grpc.internal' };
  assert.deepEqual(await probeGrpc({ ...tls, tlsSkipVerify: true }, live()), { status: 'passing', output: `gRPC check ${tlsTarget}/web: SERVING` });
  const strict = await probeGrpc(tls, live());
  assert.equal(strict.status, 'critical');
  const plain = await probeGrpc(spec('web', tlsTarget), live());
  assert.equal(plain.status, 'critical', 'plaintext to a TLS port fails');
});
