import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../src/cli/program';
import type { CliIo } from '../../src/cli/io';
import { systemClock } from '../../src/core/clock';
import { apiRoutes, HttpApiServer } from '../../src/http';
import { FakeAgent, report } from '../http/fake-agent';

const api = new FakeAgent();
const server = new HttpApiServer({ host: '127.0.0.1', port: 0, routes: apiRoutes(api), clock: systemClock });
let addr = '';

before(async () => {
  await server.start();
  addr = `127.0.0.1:${server.address().port}`;
});
after(() => server.close());

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (t) => (out += t), stderr: (t) => (err += t), env: { SHOAL_HTTP_ADDR: addr } };
  const r = await runCli(args, io);
  return { code: r.code, out, err };
}

test('members talks to SHOAL_HTTP_ADDR and prints the table', async () => {
  const r = await run('members');
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split('\n');
  assert.match(lines[0]!, /^Node\s+Address\s+Status\s+Type\s+Build\s+Protocol\s+DC$/);
  assert.deepEqual(lines.slice(1).map((l) => l.split(/\s+/)[2]), ['alive', 'suspect', 'failed', 'left']);
});

test('members -wan on a client agent fails with one clear line and exit 1', async () => {
  const r = await run('members', '-wan');
  assert.equal(r.code, 1);
  assert.equal(r.err, 'Error: this agent is not a server, so it is not in the WAN pool; ask a server agent\n');
});

test('an unreachable agent is one line naming the address', async () => {
  // A port that was free a moment ago: nothing listens there.
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const r = await run('members', '-http-addr', `127.0.0.1:${port}`);
  assert.equal(r.code, 1);
  assert.ok(r.err.startsWith(`Error: cannot reach the Shoal agent at http://127.0.0.1:${port}: connection refused`), r.err);
  assert.equal(r.err.split('\n').length, 2);
});

test('join contacts each address and counts successes', async () => {
  api.calls = [];
  const r = await run('join', '10.0.0.1', '10.0.0.2:7301', '-wan');
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, 'Successfully joined cluster by contacting 2 nodes.\n');
  assert.deepEqual(api.calls, ['join 10.0.0.1 wan=true', 'join 10.0.0.2:7301 wan=true']);
});

test('keyring -install @file reads the key from the file; -use and -remove map to PUT and DELETE', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'shoal-cli-'));
  writeFileSync(join(dir, 'key'), 'FROMFILE==\n');
  api.calls = [];
  assert.equal((await run('keyring', '-install', `@${join(dir, 'key')}`)).code, 0);
  assert.equal((await run('keyring', '-use', 'K2')).code, 0);
  assert.equal((await run('keyring', '-remove', 'K3')).code, 0);
  assert.deepEqual(api.calls, ['keyring install FROMFILE==', 'keyring use K2', 'keyring remove K3']);
  const missing = await run('keyring', '-install', '@/nonexistent/key');
  assert.equal(missing.code, 1);
  assert.equal(missing.err, 'Error: cannot read key file /nonexistent/key: ENOENT\n');
});

test('keyring needs exactly one operation; a partial failure exits 1 naming the members', async () => {
  assert.equal((await run('keyring')).code, 1);
  assert.equal((await run('keyring', '-list', '-use', 'K')).code, 1);
  api.opReports = [report({ numNodes: 2, numErrors: 1, messages: { b: 'no answer within 1600 ms' } })];
  const r = await run('keyring', '-install', 'K4');
  api.opReports = [report()];
  assert.equal(r.code, 1);
  assert.match(r.err, /^Error: keyring install did not complete everywhere: dc1 \(LAN\): 1\/2 members failed \(b: no answer within 1600 ms\)\n$/);
});

test('keyring -list prints the keys and counts', async () => {
  const r = await run('keyring', '-list');
  assert.equal(r.code, 0);
  assert.ok(r.out.includes('dc1 (LAN):\n  Keys:\n    K1 [3/3]\n    K2 [2/3]\n'));
});

test('keygen prints a fresh 32-byte base64 key each time', async () => {
  const a = await run('keygen');
  const b = await run('keygen');
  assert.equal(Buffer.from(a.out.trim(), 'base64').length, 32);
  assert.notEqual(a.out, b.out);
});

test('leave and reload', async () => {
  api.calls = [];
  assert.equal((await run('leave')).out, 'Graceful leave complete\n');
  assert.equal((await run('reload')).out, 'Configuration reload triggered\n');
  assert.ok(api.calls.includes('leave') && api.calls.includes('reload'));
});

test('agent with an invalid configuration prints every problem and exits 1 without starting', async () => {
  const r = await run('agent', '-http-port', 'abc', '-log-level', 'loud');
  assert.equal(r.code, 1);
  assert.equal(r.err, [
    'invalid configuration (3 problems):',
    '  command line: -log-level: expected one of trace, debug, info, warn, error, got "loud"',
    '  command line: -http-port: expected an integer from 0 to 65535, got "abc"',
    '  configuration: data_dir: is required (except with -dev): expected a directory path',
    '',
  ].join('\n'));
});

test('unknown commands and options fail with exit 1', async () => {
  assert.equal((await run('frobnicate')).code, 1);
  assert.equal((await run('members', '-frob')).code, 1);
  assert.equal((await run('--help')).code, 0);
});
