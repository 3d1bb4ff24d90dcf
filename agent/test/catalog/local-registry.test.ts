import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRegistry, type LocalRegistryOptions } from '../../src/catalog/local-registry';
import { ValidationError, type CheckRecord } from '../../src/catalog/types';
import type { AliasSource } from '../../src/checks';
import { VirtualClock } from '../../src/core/clock';
import { noopLogger } from '../../src/core/logger';
import { SeededRandom } from '../../src/core/random';
import { waitFor } from '../agent/poll';

interface Harness {
  registry: LocalRegistry;
  clock: VirtualClock;
  dataDir: string;
  cleanup: () => Promise<void>;
}

async function harness(opts: Partial<LocalRegistryOptions> & { dataDir?: string; clock?: VirtualClock } = {}): Promise<Harness> {
  const dataDir = opts.dataDir ?? (await fs.mkdtemp(join(tmpdir(), 'shoal-registry-')));
  const clock = opts.clock ?? new VirtualClock();
  const registry = new LocalRegistry({ nodeName: 'node-1', random: new SeededRandom(3), logger: noopLogger, ...opts, dataDir, clock });
  return {
    registry,
    clock,
    dataDir,
    cleanup: async () => {
      await registry.stop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

const doc = (source: string, raw: unknown): { source: string; raw: unknown } => ({ source, raw });
const web = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'web', port: 8080, check: { ttl: '30s' }, connect: { sidecar_service: {} }, ...extra,
});
const byId = (checks: CheckRecord[], id: string): CheckRecord => {
  const c = checks.find((x) => x.checkId === id);
  assert.ok(c, `no check ${id} in ${checks.map((x) => x.checkId).join(', ')}`);
  return c;
};
const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await Promise.resolve();
};

test('registry: file services appear with sidecars, checks start critical, serfHealth is there', async () => {
  const h = await harness();
  try {
    let notified = 0;
    h.registry.subscribe(() => notified++);
    const before = h.registry.index();
    assert.deepEqual(h.registry.loadFiles([doc('/etc/shoal/web.json', { service: web() })]), []);
    assert.ok(h.registry.index() > before);
    assert.ok(notified > 0);
    assert.deepEqual(h.registry.services().map((s) => [s.id, s.kind, s.port, s.source]), [
      ['web', '', 8080, '/etc/shoal/web.json'],
      ['web-sidecar-proxy', 'connect-proxy', 21000, '/etc/shoal/web.json'],
    ]);
    const checks = h.registry.checks();
    assert.deepEqual(checks.map((c) => c.checkId), ['serfHealth', 'service:web', 'service:web-sidecar-proxy']);
    assert.deepEqual(byId(checks, 'serfHealth'), {
      checkId: 'serfHealth', name: 'Serf Health Status', status: 'passing', notes: '', output: 'Agent alive and reachable',
      serviceId: '', serviceName: '', serviceTags: [], type: 'serf', interval: '', timeout: '',
    });
    assert.equal(byId(checks, 'service:web').status, 'critical');
    assert.equal(byId(checks, 'service:web').type, 'ttl');
    const snap = h.registry.snapshot();
    assert.deepEqual(snap, { services: h.registry.services(), checks });
  } finally {
    await h.cleanup();
  }
});

test('registry: sidecar ports are the lowest free ones and stay put across reloads', async () => {
  const h = await harness();
  try {
    const svc = (name: string, sidecar: Record<string, unknown> = {}): Record<string, unknown> => ({ name, port: 1000, connect: { sidecar_service: sidecar } });
    assert.deepEqual(h.registry.loadFiles([doc('a.json', { services: [svc('a'), svc('b'), svc('c', { port: 21001 })] })]), []);
    const ports = (): Record<string, number> => Object.fromEntries(h.registry.services().filter((s) => s.kind === 'connect-proxy').map((s) => [s.id, s.port]));
    assert.deepEqual(ports(), { 'a-sidecar-proxy': 21000, 'b-sidecar-proxy': 21002, 'c-sidecar-proxy': 21001 });
    // a goes, d comes: b keeps 21002 even though 21000 is now lower; d takes the freed 21000.
    assert.deepEqual(h.registry.loadFiles([doc('a.json', { services: [svc('d'), svc('b'), svc('c', { port: 21001 })] })]), []);
    assert.deepEqual(ports(), { 'b-sidecar-proxy': 21002, 'c-sidecar-proxy': 21001, 'd-sidecar-proxy': 21000 });
  } finally {
    await h.cleanup();
  }
});

test('registry: reload adds and removes services; unchanged ones keep their check state', async () => {
  const h = await harness();
  try {
    await h.registry.start();
    const a = { name: 'a', port: 1, check: { ttl: '1m' } };
    const b = { name: 'b', port: 2, check: { ttl: '1m' } };
    assert.deepEqual(h.registry.loadFiles([doc('one.json', { services: [a, b] })]), []);
    assert.equal(h.registry.updateTtl('service:a', 'passing', 'I am fine'), true);
    assert.deepEqual(h.registry.loadFiles([doc('one.json', { services: [a] }), doc('two.json', { service: { name: 'c', port: 3, check: { ttl: '1m' } } })]), []);
    assert.deepEqual(h.registry.services().map((s) => s.id), ['a', 'c']);
    const checks = h.registry.checks();
    assert.deepEqual(checks.map((c) => c.checkId), ['serfHealth', 'service:a', 'service:c']);
    assert.deepEqual([byId(checks, 'service:a').status, byId(checks, 'service:a').output], ['passing', 'I am fine']);
    assert.equal(byId(checks, 'service:c').status, 'critical');
    // The kept TTL check still runs: it expires a minute after the last update.
    h.clock.advance(60_000);
    assert.equal(h.registry.check('service:a')!.status, 'critical');
  } finally {
    await h.cleanup();
  }
});

test('registry: an invalid reload changes nothing and reports every problem', async () => {
  const h = await harness();
  try {
    assert.deepEqual(h.registry.loadFiles([doc('a.json', { service: web() })]), []);
    const index = h.registry.index();
    const services = h.registry.services();
    const problems = h.registry.loadFiles([
      doc('a.json', { service: web({ port: 'eighty' }) }),
      doc('b.json', { service: { name: 'new', port: 1 } }),
      doc('c.json', { service: { name: 'new', port: 2 } }),
    ]);
    // Field problems and set rules (the duplicate id) are reported together, in one run.
    assert.deepEqual(problems.map((p) => `${p.source}: ${p.field}: ${p.message}`), [
      'a.json: service.port: expected an integer from 0 to 65535, got "eighty"',
      'c.json: service.id: duplicate service ID "new": also defined in b.json at service',
    ]);
    assert.equal(h.registry.index(), index);
    assert.deepEqual(h.registry.services(), services);
  } finally {
    await h.cleanup();
  }
});

test('registry: API registrations are persisted (0600), restored on start with their sidecar port, and removed on deregister', async () => {
  const h = await harness();
  const body = { Name: 'api', ID: 'api-1', Port: 9000, Check: { TTL: '10s' }, Connect: { SidecarService: {} } };
  try {
    await h.registry.start();
    // A file sidecar takes 21000 first, so the API sidecar gets 21001.
    assert.deepEqual(h.registry.loadFiles([doc('w.json', { service: web() })]), []);
    const record = await h.registry.register(body);
    assert.equal(record.source, 'api');
    assert.equal(h.registry.service('api-1-sidecar-proxy')!.port, 21001);
    const file = join(h.dataDir, 'services', 'api-1.json');
    const st = await fs.stat(file);
    assert.equal(st.mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(await fs.readFile(file, 'utf8')), { version: 1, definition: body, sidecarPort: 21001 });
    await h.registry.stop();

    // A restarted agent without the file service: the API sidecar keeps 21001.
    const again = await harness({ dataDir: h.dataDir });
    await again.registry.start();
    assert.deepEqual(again.registry.services().map((s) => [s.id, s.port, s.source]), [['api-1', 9000, 'api'], ['api-1-sidecar-proxy', 21001, 'api']]);
    assert.equal(again.registry.check('service:api-1')!.status, 'critical');
    assert.equal(await again.registry.deregister('api-1'), true);
    assert.equal(await again.registry.deregister('api-1'), false);
    await assert.rejects(fs.stat(file), /ENOENT/);
    assert.deepEqual(again.registry.services(), []);
    assert.deepEqual(again.registry.checks().map((c) => c.checkId), ['serfHealth']);
    await again.registry.stop();
  } finally {
    await h.cleanup();
  }
});

test('registry: invalid and conflicting registrations are refused with every problem', async () => {
  const h = await harness();
  try {
    assert.deepEqual(h.registry.loadFiles([doc('w.json', { service: web() })]), []);
    await assert.rejects(h.registry.register({ Name: 'x y', Port: -1 }), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.deepEqual(err.problems.map((p) => p.field), ['Name', 'Port']);
      return true;
    });
    await assert.rejects(h.registry.register({ Name: 'web', Port: 1 }), /defined in config file w\.json/);
    await assert.rejects(h.registry.register({ Name: 'other', Port: 1, Connect: { SidecarService: { Proxy: { Upstreams: [{ DestinationName: 'db', LocalBindPort: 21000 }] } } } }), /port 21000 is held by sidecar "web-sidecar-proxy"/);
    assert.equal(h.registry.service('web-sidecar-proxy')!.port, 21000);
    await assert.rejects(h.registry.deregister('web'), /defined in config file w\.json/);
    assert.deepEqual(await fs.readdir(join(h.dataDir, 'services')).catch(() => []), []);
    // Replacing an API registration keeps its check state.
    await h.registry.register({ Name: 'api', Port: 1, Check: { TTL: '30s' } });
    assert.equal(h.registry.updateTtl('service:api', 'passing', 'ok'), true);
    await h.registry.register({ Name: 'api', Port: 2, Tags: ['v2'], Check: { TTL: '30s' } });
    assert.deepEqual([h.registry.service('api')!.port, h.registry.check('service:api')!.status, h.registry.check('service:api')!.serviceTags], [2, 'passing', ['v2']]);
  } finally {
    await h.cleanup();
  }
});

test('registry: maintenance mode adds a critical check with the reason; node maintenance too', async () => {
  const h = await harness();
  try {
    assert.deepEqual(h.registry.loadFiles([doc('w.json', { service: web() })]), []);
    assert.equal(h.registry.setMaintenance('nope', true, ''), false);
    const index = h.registry.index();
    assert.equal(h.registry.setMaintenance('web', true, 'upgrading'), true);
    assert.ok(h.registry.index() > index);
    assert.deepEqual(h.registry.check('_service_maintenance:web'), {
      checkId: '_service_maintenance:web', name: 'Service Maintenance Mode', status: 'critical', notes: 'upgrading', output: '',
      serviceId: 'web', serviceName: 'web', serviceTags: [], type: 'maintenance', interval: '', timeout: '',
    });
    assert.equal(h.registry.setMaintenance('web', false, ''), true);
    assert.equal(h.registry.check('_service_maintenance:web'), undefined);
    h.registry.setNodeMaintenance(true, '');
    assert.match(h.registry.check('_node_maintenance')!.notes, /no reason was provided/);
    h.registry.setNodeMaintenance(false, '');
    assert.equal(h.registry.check('_node_maintenance'), undefined);
    // A service that goes away takes its maintenance check with it.
    h.registry.setMaintenance('web', true, 'x');
    assert.deepEqual(h.registry.loadFiles([]), []);
    assert.deepEqual(h.registry.checks().map((c) => c.checkId), ['serfHealth']);
  } finally {
    await h.cleanup();
  }
});

test('registry: TTL checks expire on the clock; updateTtl refuses non-TTL checks; node health follows gossip', async () => {
  const h = await harness();
  try {
    assert.deepEqual(h.registry.loadFiles([doc('w.json', { service: web(), check: { name: 'disk', args: ['true'], interval: '1h' } })]), []);
    await h.registry.start();
    assert.equal(h.registry.updateTtl('disk', 'passing', ''), false);
    assert.equal(h.registry.updateTtl('nope', 'passing', ''), false);
    h.clock.advance(10_000);
    assert.equal(h.registry.updateTtl('service:web', 'warning', 'slow'), true);
    assert.deepEqual([h.registry.check('service:web')!.status, h.registry.check('service:web')!.output], ['warning', 'slow']);
    h.clock.advance(29_999);
    assert.equal(h.registry.check('service:web')!.status, 'warning');
    h.clock.advance(1);
    assert.equal(h.registry.check('service:web')!.status, 'critical');
    assert.match(h.registry.check('service:web')!.output, /^TTL expired/);
    const index = h.registry.index();
    h.registry.setNodeHealth('critical', 'Agent not live or unreachable');
    assert.equal(h.registry.check('serfHealth')!.status, 'critical');
    assert.ok(h.registry.index() > index);
  } finally {
    await h.cleanup();
  }
});

test('registry: a sidecar mirrors its service through the default alias check', async () => {
  const h = await harness();
  try {
    assert.deepEqual(h.registry.loadFiles([doc('w.json', { service: web() })]), []);
    await h.registry.start();
    await flush();
    assert.equal(h.registry.check('service:web-sidecar-proxy')!.status, 'critical');
    h.registry.updateTtl('service:web', 'passing', 'ok');
    await flush();
    assert.deepEqual([h.registry.check('service:web-sidecar-proxy')!.status, h.registry.check('service:web-sidecar-proxy')!.output], ['passing', 'All checks passing.']);
    h.registry.setMaintenance('web', true, 'deploy');
    await flush();
    assert.deepEqual(h.registry.check('service:web-sidecar-proxy')!.output, 'Aliased check "Service Maintenance Mode" failing: ');
  } finally {
    await h.cleanup();
  }
});

test('registry: alias checks of other nodes go through the injected lookup', async () => {
  let remote: CheckRecord[] | undefined;
  const listeners = new Set<() => void>();
  const aliasLookup: AliasSource = {
    checksFor: (node, service) => (node === 'node-2' && service === 'db' ? remote : undefined),
    subscribe: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
  const h = await harness({ aliasLookup });
  try {
    assert.deepEqual(h.registry.loadFiles([doc('a.json', { check: { name: 'db on node-2', alias_service: 'db', alias_node: 'node-2' } })]), []);
    await h.registry.start();
    await flush();
    assert.equal(h.registry.check('db on node-2')!.output, 'Service db could not be found on node node-2');
    remote = [{ checkId: 'service:db', name: 'db', status: 'passing', notes: '', output: '', serviceId: 'db', serviceName: 'db', serviceTags: [], type: 'tcp', interval: '10s', timeout: '10s' }];
    for (const fn of listeners) fn();
    await flush();
    assert.equal(h.registry.check('db on node-2')!.status, 'passing');
    await h.registry.stop();
    assert.equal(listeners.size, 0, 'stop unsubscribes from the lookup');
  } finally {
    await h.cleanup();
  }
});

test('registry: deregister_critical_service_after removes a service whose check stays critical', async () => {
  const h = await harness();
  try {
    await h.registry.start();
    await h.registry.register({ Name: 'flaky', Port: 1, Check: { TTL: '10s', DeregisterCriticalServiceAfter: '90s' } });
    assert.deepEqual(h.registry.loadFiles([doc('w.json', { service: { name: 'file-svc', port: 2, check: { ttl: '10s', deregister_critical_service_after: '1m' } } })]), []);
    // Critical from the start; the reaper looks every 30 s.
    h.clock.advance(60_000);
    assert.ok(h.registry.service('flaky'), 'not yet: critical for 60 s of 90 s');
    assert.equal(h.registry.service('file-svc'), undefined, 'critical for 60 s of 60 s');
    h.clock.advance(29_000);
    assert.ok(h.registry.service('flaky'));
    h.clock.advance(1_000);
    assert.equal(h.registry.service('flaky'), undefined);
    await waitFor('the stored registration to go', () => fs.stat(join(h.dataDir, 'services', 'flaky.json')).then(() => false, () => true));
    assert.deepEqual(h.registry.checks().map((c) => c.checkId), ['serfHealth']);
    // A reload brings the file service back.
    assert.deepEqual(h.registry.loadFiles([doc('w.json', { service: { name: 'file-svc', port: 2, check: { ttl: '10s', deregister_critical_service_after: '1m' } } })]), []);
    assert.ok(h.registry.service('file-svc'));
  } finally {
    await h.cleanup();
  }
});

test('registry: a passing check is not reaped, and stop() kills a script check in flight', async () => {
  const h = await harness();
  try {
    assert.deepEqual(h.registry.loadFiles([doc('w.json', { service: { name: 'slow', port: 2, checks: [
      { ttl: '10m', deregister_critical_service_after: '1m' },
      { args: ['sleep', '30'], interval: '10s' },
    ] } })]), []);
    await h.registry.start();
    h.registry.updateTtl('service:slow:1', 'passing', '');
    h.clock.advance(10_000); // the script check has started `sleep 30` by now
    h.clock.advance(110_000);
    assert.ok(h.registry.service('slow'));
    await h.registry.stop(); // must not wait 30 s for sleep
  } finally {
    await h.cleanup();
  }
});
