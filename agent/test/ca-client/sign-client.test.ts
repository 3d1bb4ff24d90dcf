import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaError, CaErrorCode, CaLocalErrorCode, type SignResponse } from '../../../ca/src';
import { SignClient, type SignTransport } from '../../src/ca-client/sign-client';
import type { CaServerEndpoint } from '../../src/ca-client/ca-tags';
import { VirtualClock } from '../../src/core/clock';
import { noopLogger } from '../../src/core/logger';
import { SeededRandom } from '../../src/core/random';

const ok: SignResponse = { certPem: 'c', chainPem: [], rootId: 'r', notBeforeMs: 0, notAfterMs: 1, serialHex: '01' };
const servers = (...names: string[]): CaServerEndpoint[] => names.map((n) => ({ node: n, addr: `${n}:7501`, rootId: n.startsWith('new') ? 'NEW' : 'OLD' }));
const auth = () => ({ caPems: [], trustDomain: 'td' });

function client(list: () => CaServerEndpoint[], transport: SignTransport, seed = 1) {
  const clock = new VirtualClock();
  const outcomes: string[] = [];
  const c = new SignClient({ servers: list, transport, clock, random: new SeededRandom(seed), logger: noopLogger, metrics: { request: (o) => outcomes.push(o) } });
  return { c, clock, outcomes };
}

async function drive<T>(clock: VirtualClock, p: Promise<T>): Promise<T> {
  let done = false;
  const t = p.finally(() => { done = true; });
  t.catch(() => {});
  for (let i = 0; i < 10_000 && !done; i++) await clock.advanceAsync(10, 10);
  return t;
}

test('fails over to the next server on retryable errors, after a backoff delay', async () => {
  const calls: string[] = [];
  const { c, clock, outcomes } = client(() => servers('a', 'b', 'c'), async (addr) => {
    calls.push(addr);
    if (calls.length === 1) throw new CaError(CaLocalErrorCode.unavailable, 'down', true);
    if (calls.length === 2) throw new CaError(CaErrorCode.rateLimited, 'busy', true);
    return ok;
  });
  const t0 = clock.now();
  assert.equal(await drive(clock, c.sign({ csrPem: 'x' }, auth)), ok);
  assert.equal(new Set(calls).size, 3, `three different servers: ${calls.join(',')}`);
  assert.deepEqual(outcomes, ['unavailable', 'rate_limited', 'ok']);
  assert.ok(clock.now() - t0 >= 100, 'waited between attempts');
});

test('a refusal ends the request at once: every server would say the same', async () => {
  let n = 0;
  const { c, clock, outcomes } = client(() => servers('a', 'b'), async () => {
    n++;
    throw new CaError(CaErrorCode.forbidden, 'not registered here', false);
  });
  await assert.rejects(drive(clock, c.sign({ csrPem: 'x' }, auth)), (e: unknown) => e instanceof CaError && e.code === CaErrorCode.forbidden);
  assert.equal(n, 1);
  assert.deepEqual(outcomes, ['forbidden']);
});

test('servers under the preferred root are asked first; order is otherwise random', async () => {
  const firsts = new Set<string>();
  for (let seed = 1; seed <= 20; seed++) {
    const seen: string[] = [];
    const { c, clock } = client(() => servers('old1', 'old2', 'new1', 'new2'), async (addr) => {
      seen.push(addr);
      throw new CaError(CaLocalErrorCode.timeout, 't', true);
    }, seed);
    await drive(clock, c.sign({ csrPem: 'x' }, auth, 'NEW')).catch(() => {});
    assert.ok(seen[0]!.startsWith('new') && seen[1]!.startsWith('new'), seen.join(','));
    firsts.add(seen[0]!);
  }
  assert.equal(firsts.size, 2, 'both preferred servers get to be first');
});

test('with no live server it retries with backoff, then fails with SHOAL_ERR_CA_UNAVAILABLE', async () => {
  let list: CaServerEndpoint[] = [];
  const { c, clock } = client(() => list, async () => ok);
  const t0 = clock.now();
  await assert.rejects(drive(clock, c.sign({ csrPem: 'x' }, auth)), (e: unknown) => e instanceof CaError && e.code === CaLocalErrorCode.unavailable && /no live CA server/.test(e.message));
  assert.ok(clock.now() - t0 > 200);
  list = servers('a');
  assert.equal(await drive(clock, c.sign({ csrPem: 'x' }, auth)), ok, 'a server appearing in gossip is used');
});

test('a server that gossip declares failed during a pass is not tried later in that pass', async () => {
  for (let seed = 1; seed <= 10; seed++) {
    const calls: string[] = [];
    let live = servers('a', 'b', 'c');
    const { c, clock } = client(() => live, async (addr) => {
      calls.push(addr);
      if (calls.length === 1) {
        // The first server fails; meanwhile gossip declares one of the other two failed.
        const survivor = live.find((s) => s.addr !== addr)!;
        live = live.filter((s) => s.addr === addr || s === survivor);
        throw new CaError(CaLocalErrorCode.unavailable, 'down', true);
      }
      if (!live.some((s) => s.addr === addr)) throw new Error(`asked ${addr}, which gossip had declared failed`);
      return ok;
    }, seed);
    assert.equal(await drive(clock, c.sign({ csrPem: 'x' }, auth)), ok, `seed ${seed}`);
    assert.equal(calls.length, 2, `seed ${seed}: ${calls.join(',')}`);
  }
});
