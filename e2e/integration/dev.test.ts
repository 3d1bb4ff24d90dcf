/**
 * `npm run dev` as a reader runs it: `shoal dev --demo` starts one agent and the demo services; web
 * answers through the mesh; the deny intention printed in the banner makes web answer 502 for new
 * connections; deleting it restores 200; Ctrl-C (SIGINT) stops everything, exit code 0, and leaves no
 * data directory and no listener behind.
 *
 * Addresses: 127.0.0.1 (the dev agent's), ports 7500/7501/7301/7600, 8080, 9090, 9191, 21000-21001.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { systemClock } from '../../agent/src/core/clock';
import { http, runShoal, SHOAL_MAIN, waitFor } from './harness';

let child: ChildProcess | undefined;
after(() => {
  if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
});

async function webStatus(): Promise<{ status: number; text: string }> {
  try {
    return await http('http://127.0.0.1:8080', 'GET', '/', undefined, 6_000);
  } catch (err) {
    return { status: 0, text: (err as Error).message };
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

test('shoal dev --demo: web calls api through the mesh, a deny intention applies, Ctrl-C leaves nothing behind', { timeout: 90_000 }, async () => {
  let stdout = '';
  let stderr = '';
  child = spawn(process.execPath, [SHOAL_MAIN, 'dev', '--demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child!.once('exit', (code) => r(code)));
  const banner = (): boolean => stderr.includes('Ctrl-C stops');
  // Fails at once if the process exits before its banner (say a port is taken), rather than after the wait.
  const exitedEarly = exited.then((code) => {
    if (!banner()) throw new Error(`shoal dev --demo exited with ${code} before its banner: ${stderr}\n${stdout.slice(-2000)}`);
  });
  await Promise.race([
    waitFor('the demo banner', banner, { timeoutMs: 30_000, describe: () => `${stderr}\n${stdout.slice(-2000)}` }),
    exitedEarly,
  ]);
  assert.match(stderr, /curl -s http:\/\/127\.0\.0\.1:8080\//);
  const dataDir = /"dataDir":"([^"]+)"/.exec(stdout)?.[1];
  assert.ok(dataDir !== undefined && existsSync(dataDir), 'the agent logged its temporary data dir');

  let last = { status: 0, text: '' };
  await waitFor('web to answer 200 through the mesh', async () => (last = await webStatus()).status === 200, { timeoutMs: 20_000, everyMs: 200, describe: () => JSON.stringify(last) });
  assert.match(last.text, /"service": "api"/);

  // The deny command from the banner.
  const deny = /echo '(.+)' \| node dist\/agent\/src\/cli\/main\.js config write -/.exec(stderr)?.[1];
  assert.ok(deny !== undefined, 'the banner shows how to write a deny intention');
  const w = await http('http://127.0.0.1:7500', 'PUT', '/v1/config', JSON.parse(deny));
  assert.equal(w.status, 200, w.text);
  const t0 = systemClock.now();
  await waitFor('web to answer 502 (denied)', async () => (last = await webStatus()).status === 502, { timeoutMs: 2_000, everyMs: 50, describe: () => JSON.stringify(last) });
  const deniedAfter = systemClock.now() - t0;
  const del = await runShoal(['config', 'delete', '-kind', 'service-intentions', '-name', 'api', '-http-addr', '127.0.0.1:7500']);
  assert.equal(del.code, 0, del.stderr);
  await waitFor('web to answer 200 again', async () => (last = await webStatus()).status === 200, { timeoutMs: 2_000, everyMs: 50, describe: () => JSON.stringify(last) });
  assert.ok(stdout.split('\n').some((l) => l.includes('"msg":"access"') && l.includes('"outcome":"denied"')), 'the denial is in the access log');

  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 0, stderr.slice(-2000));
  assert.equal(existsSync(dataDir), false, 'the temporary data dir is gone');
  for (const port of [8080, 9090, 9191, 7500, 21000, 21001]) assert.ok(await portFree(port), `port ${port} is free again`);
  assert.ok(deniedAfter < 2_000);
});
