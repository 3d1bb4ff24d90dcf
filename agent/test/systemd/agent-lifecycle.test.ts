/**
 * Integration: the lifecycle hooks a real Agent calls (what the systemd notifier relies on), with two
 * in-process agents on 127.0.2.10-11 and real sockets: started, each retry_join attempt, reload and
 * stopping, which must come while the agent is still a live member, before it leaves.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, createLogger } from '../../src/agent';
import { loadConfig } from '../../src/config';
import type { AgentLifecycle, AgentStatusSource, PoolName } from '../../src/systemd';
import { waitFor } from '../agent/poll';

const dirs: string[] = [];
const agents: Agent[] = [];

after(async () => {
  await Promise.all(agents.map((a) => a.shutdown({ leave: false })));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Records each call; `stopping` also notes the agent's own gossip state at that moment. */
class RecordingLifecycle implements AgentLifecycle {
  readonly events: string[] = [];
  agent: Agent | undefined;
  started(source: AgentStatusSource): void {
    this.events.push(`started:${source.lanMembers().length}`);
  }
  joinAttempt(pool: PoolName, joined: boolean): void {
    this.events.push(`join:${pool}:${joined}`);
  }
  reloading(): void {
    this.events.push('reloading');
  }
  reloaded(): void {
    this.events.push('reloaded');
  }
  stopping(): void {
    this.events.push(`stopping:self=${this.agent?.lanPool?.localMember().state}`);
  }
}

async function startAgent(name: string, ip: string, extra: Record<string, unknown>, lifecycle?: AgentLifecycle): Promise<Agent> {
  const dataDir = mkdtempSync(join(tmpdir(), `shoal-lifecycle-${name}-`));
  dirs.push(dataDir);
  const config = await loadConfig({
    documents: [{ source: `${name}.hcl`, raw: { node_name: name, bind_addr: ip, data_dir: dataDir, profile: 'local', ports: { http: 0, serf_lan: 0 }, ...extra } }],
  });
  const agent = new Agent({ config, logger: createLogger({ level: 'silent', json: true }), processMetrics: false, ...(lifecycle ? { lifecycle } : {}) });
  agents.push(agent);
  await agent.start();
  return agent;
}

test('an agent reports start, retry_join attempts, reloads and stopping (before it leaves)', async () => {
  const seed = await startAgent('seed', '127.0.2.10', {});
  const rec = new RecordingLifecycle();
  const a = await startAgent('a', '127.0.2.11', { retry_join: [seed.lanPool!.localMember().addr] }, rec);
  rec.agent = a;
  await waitFor('the retry_join attempt', () => rec.events.includes('join:lan:true'));
  assert.equal(rec.events[0], 'started:1', 'started right after start(), before the join completed or not');

  await a.reload();
  await a.shutdown({ leave: true });
  assert.deepEqual(rec.events.slice(rec.events.indexOf('reloading')), ['reloading', 'reloaded', 'stopping:self=alive', 'stopping:self=alive']);
  await waitFor('the seed to see a leave', () => seed.lanMembers().find((m) => m.name === 'a')?.state === 'left');
});

test('a failed reload still ends with reloaded, and failed retry_join attempts are reported as such', async () => {
  const rec = new RecordingLifecycle();
  const a = await startAgent('b', '127.0.2.12', { retry_join: ['127.0.2.13:1'], retry_interval: '1s' }, rec);
  await waitFor('a failed attempt', () => rec.events.includes('join:lan:false'));
  const broken = new Agent({
    config: a.currentConfig, logger: createLogger({ level: 'silent', json: true }), processMetrics: false, lifecycle: rec,
    reloadConfig: () => Promise.reject(new Error('bad file')),
  });
  await assert.rejects(broken.reload(), /bad file/);
  assert.deepEqual(rec.events.slice(-2), ['reloading', 'reloaded']);
});
