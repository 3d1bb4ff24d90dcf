import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normaliseArgv } from '../../src/cli/argv';
import { resolveHttpAddr } from '../../src/cli/api-client';

const known = new Set(['--config-file', '--http-port', '--install', '--http-addr', '--dev', '--help']);

test('single-dash long options become double-dash, with or without =value', () => {
  assert.deepEqual(
    normaliseArgv(['agent', '-config-file', 'a.hcl', '-http-port=7500', '-dev', '--config-file', 'b.hcl'], known),
    ['agent', '--config-file', 'a.hcl', '--http-port=7500', '--dev', '--config-file', 'b.hcl'],
  );
});

test('values, short options, unknown options and everything after -- are left alone', () => {
  assert.deepEqual(normaliseArgv(['keyring', '-install', '@/tmp/key', '-h', '-frob', '-1'], known), ['keyring', '--install', '@/tmp/key', '-h', '-frob', '-1']);
  assert.deepEqual(normaliseArgv(['join', '--', '-dev'], known), ['join', '--', '-dev']);
});

test('the HTTP address comes from the flag, then SHOAL_HTTP_ADDR, then the default; a bare host:port gets http://', () => {
  assert.equal(resolveHttpAddr(undefined, {}), 'http://127.0.0.1:7500');
  assert.equal(resolveHttpAddr(undefined, { SHOAL_HTTP_ADDR: '127.0.0.2:7500' }), 'http://127.0.0.2:7500');
  assert.equal(resolveHttpAddr('https://a.example:8501/', { SHOAL_HTTP_ADDR: 'x:1' }), 'https://a.example:8501');
  assert.equal(resolveHttpAddr('[::1]:7500', {}), 'http://[::1]:7500');
  assert.throws(() => resolveHttpAddr('ftp://x', {}), /invalid HTTP address "ftp:\/\/x"/);
});
