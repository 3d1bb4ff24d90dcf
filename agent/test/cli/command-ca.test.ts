import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { runCli } from '../../src/cli/program';
import type { CliIo } from '../../src/cli/io';
import { certInfo } from '../../../ca/src';

const dir = mkdtempSync(join(tmpdir(), 'shoal-cli-ca-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {} };
  const r = await runCli(args, io);
  return { code: r.code, out, err };
}

test('ca init writes the root (key 0600) and refuses to overwrite it without -force', async () => {
  const d = join(dir, 'init');
  const r = await run('ca', 'init', '-trust-domain', 'mesh.example.org', '-dir', d);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Created root CA for trust domain mesh.example.org, id [0-9a-f]{40}/);
  assert.equal(statSync(join(d, 'root-ca-key.pem')).mode & 0o777, 0o600);
  const first = readFileSync(join(d, 'root-ca.pem'), 'utf8');
  assert.deepEqual(certInfo(first).uriSans, ['spiffe://mesh.example.org']);
  assert.doesNotMatch(r.out + r.err, /PRIVATE KEY/);

  const again = await run('ca', 'init', '-trust-domain', 'mesh.example.org', '-dir', d);
  assert.equal(again.code, 1);
  assert.match(again.err, /root-ca.pem already exists; refusing to overwrite it \(use --force to replace it\)/);
  assert.equal(readFileSync(join(d, 'root-ca.pem'), 'utf8'), first);

  const forced = await run('ca', 'init', '--trust-domain', 'mesh.example.org', '--dir', d, '--force');
  assert.equal(forced.code, 0, forced.err);
  assert.notEqual(readFileSync(join(d, 'root-ca.pem'), 'utf8'), first);
});

test('ca intermediate signs a cluster intermediate under the root; openssl verifies it', async () => {
  const rootDir = join(dir, 'root');
  const outDir = join(dir, 'cluster');
  assert.equal((await run('ca', 'init', '-trust-domain', 'mesh.example.org', '-dir', rootDir)).code, 0);
  const r = await run('ca', 'intermediate', '-cluster', 'eu-west', '-root-dir', rootDir, '-dir', outDir, '-validity', '720h');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /Created intermediate CA for cluster eu-west in trust domain mesh.example.org/);
  const certPath = join(outDir, 'eu-west-intermediate.pem');
  assert.equal(statSync(join(outDir, 'eu-west-intermediate-key.pem')).mode & 0o777, 0o600);
  const info = certInfo(readFileSync(certPath, 'utf8'));
  assert.equal(info.pathLength, 0);
  assert.equal(info.notAfterMs - info.notBeforeMs, 720 * 3_600_000 + 60_000);
  const v = spawnSync('openssl', ['verify', '-CAfile', join(rootDir, 'root-ca.pem'), certPath], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stdout + v.stderr);

  const again = await run('ca', 'intermediate', '-cluster', 'eu-west', '-root-dir', rootDir, '-dir', outDir);
  assert.equal(again.code, 1);
  assert.match(again.err, /eu-west-intermediate.pem already exists/);
  assert.equal((await run('ca', 'intermediate', '-cluster', 'eu-west', '-root-dir', rootDir, '-dir', outDir, '-force')).code, 0);
});

test('ca commands report bad input in one line with exit 1', async () => {
  const bad = await run('ca', 'init', '-trust-domain', 'Not_Valid!', '-dir', join(dir, 'bad'));
  assert.equal(bad.code, 1);
  assert.match(bad.err, /trust domain "Not_Valid!" may contain only lower-case letters/);
  const noRoot = await run('ca', 'intermediate', '-cluster', 'x', '-dir', join(dir, 'empty'));
  assert.equal(noRoot.code, 1);
  assert.match(noRoot.err, /cannot read certificate .*root-ca.pem: ENOENT/);
  const badValidity = await run('ca', 'intermediate', '-cluster', 'x', '-dir', join(dir, 'empty'), '-validity', 'soon');
  assert.equal(badValidity.code, 1);
  assert.match(badValidity.err, /-validity: expected a duration/);
  const missing = await run('ca', 'init');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /required option '--trust-domain <name>' not specified/);
});
