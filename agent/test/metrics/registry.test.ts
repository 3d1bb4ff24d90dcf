import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { AgentMetrics } from '../../src/metrics';
import type { Member } from '../../src/gossip/member';

const member = (name: string, state: Member['state']): Member =>
  ({ name, addr: '127.0.0.1:7301', tags: {}, state, incarnation: 1, protocol: 1, stateChangedAtMs: 0 });

function exercise(m: AgentMetrics): void {
  const lan = m.gossip.forPool('lan');
  m.gossip.watchPool('lan', { members: () => [member('a', 'alive'), member('b', 'suspect'), member('c', 'dead')], healthScore: () => 2 });
  lan.messageIn('ping', 40);
  lan.messageIn('ping', 40);
  lan.messageOut('ack', 20);
  lan.wireBytes('in', 'udp', 120);
  lan.dropped('decrypt', 'udp');
  lan.probeRtt(1.5);
  lan.suspicion();
  lan.refutation();
  lan.failure();
  m.http.request('GET', '/v1/agent/members', 200, 0.002);
}

test('gossip metrics carry the names, labels and values the agent documents', async () => {
  const m = new AgentMetrics({ processMetrics: false, version: '1.2.3', revision: 'abc' });
  exercise(m);
  const text = await m.text();
  const expected = [
    'shoal_gossip_messages_received_total{pool="lan",type="ping"} 2',
    'shoal_gossip_message_bytes_received_total{pool="lan",type="ping"} 80',
    'shoal_gossip_messages_sent_total{pool="lan",type="ack"} 1',
    'shoal_gossip_message_bytes_sent_total{pool="lan",type="ack"} 20',
    'shoal_gossip_wire_bytes_total{pool="lan",direction="in",channel="udp"} 120',
    'shoal_gossip_packets_dropped_total{pool="lan",reason="decrypt",channel="udp"} 1',
    'shoal_gossip_probe_rtt_seconds_bucket{le="0.0025",pool="lan"} 1',
    'shoal_gossip_probe_rtt_seconds_count{pool="lan"} 1',
    'shoal_gossip_suspicions_total{pool="lan"} 1',
    'shoal_gossip_refutations_total{pool="lan"} 1',
    'shoal_gossip_failures_total{pool="lan"} 1',
    'shoal_gossip_members{pool="lan",state="alive"} 1',
    'shoal_gossip_members{pool="lan",state="suspect"} 1',
    'shoal_gossip_members{pool="lan",state="dead"} 1',
    'shoal_gossip_members{pool="lan",state="left"} 0',
    'shoal_gossip_health_score{pool="lan"} 2',
    'shoal_build_info{version="1.2.3",revision="abc"} 1',
    'shoal_http_requests_total{method="GET",route="/v1/agent/members",code="200"} 1',
  ];
  for (const line of expected) assert.ok(text.includes(line), `missing ${line}\n${text}`);
  m.gossip.removePool('lan');
  assert.ok(!(await m.text()).includes('shoal_gossip_members{pool="lan"'), 'a removed pool reports no members');
});

test('registries are per agent: two in one process do not share series', async () => {
  const a = new AgentMetrics({ processMetrics: false, version: '1', revision: '' });
  const b = new AgentMetrics({ processMetrics: false, version: '1', revision: '' });
  a.gossip.forPool('lan').suspicion();
  assert.ok((await a.text()).includes('shoal_gossip_suspicions_total{pool="lan"} 1'));
  assert.ok(!(await b.text()).includes('shoal_gossip_suspicions_total{pool="lan"} 1'));
});

test('every name follows Prometheus conventions: counters end in _total, nothing else does', async () => {
  const m = new AgentMetrics({ processMetrics: true, version: '1', revision: '' });
  exercise(m);
  const metrics = await m.registry.getMetricsAsJSON();
  for (const metric of metrics) {
    assert.match(metric.name, /^[a-z_][a-z0-9_]*$/);
    if (String(metric.type) === 'counter') assert.ok(metric.name.endsWith('_total'), metric.name);
    else assert.ok(!metric.name.endsWith('_total'), `${metric.type} ${metric.name}`);
  }
});

test('promtool check metrics passes, process metrics included (skipped without promtool)', async (t) => {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined) {
    t.skip('promtool not installed (Debian package prometheus)');
    return;
  }
  const m = new AgentMetrics({ processMetrics: true, version: '1', revision: '' });
  exercise(m);
  const r = spawnSync('promtool', ['check', 'metrics'], { input: await m.text(), encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
});
