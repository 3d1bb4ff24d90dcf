#!/usr/bin/env node
// Runs every compiled test file under dist/ with the node test runner. Unit and integration tests
// always run; suites that need root (network namespaces) skip themselves when they cannot run.
'use strict';
const { mkdtempSync, readdirSync, rmSync, statSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { spawnSync } = require('node:child_process');

function collect(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const roots = process.argv.slice(2);
const files = (roots.length ? roots : ['dist/agent/test', 'dist/ca', 'dist/gateway', 'dist/e2e'])
  .filter((d) => { try { return statSync(d).isDirectory(); } catch { return false; } })
  .flatMap((d) => collect(d, []))
  .sort();
if (files.length === 0) {
  console.error('run-tests: no compiled test files found; run `npm run build` first');
  process.exit(1);
}
// Every test file (and every agent it starts) makes its temporary files under one directory for
// this run, removed at the end: a test that fails, or a killed agent, leaves nothing in /tmp.
const runTmp = mkdtempSync(join(tmpdir(), 'shoal-tests-'));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', env: { ...process.env, TMPDIR: runTmp } });
rmSync(runTmp, { recursive: true, force: true });
process.exit(r.status ?? 1);
