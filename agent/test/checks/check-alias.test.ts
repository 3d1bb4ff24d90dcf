import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AliasCheck, aliasResult, aliasSourceFromCatalog, type AliasSource, type CheckResult } from '../../src/checks';
import type { CatalogReader, CheckRecord, HealthStatus, NodeCatalog } from '../../src/catalog/types';

function check(id: string, status: HealthStatus, serviceId = 'db', output = ''): CheckRecord {
  return { checkId: id, name: id, status, notes: '', output, serviceId, serviceName: serviceId, serviceTags: [], type: 'tcp', interval: '10s', timeout: '10s' };
}

const spec = { type: 'alias' as const, service: 'db', node: '' };

test('alias: the worst status of the target checks, naming the failing one', () => {
  assert.deepEqual(aliasResult(spec, 'n1', []), { status: 'passing', output: 'No checks found.' });
  assert.deepEqual(aliasResult(spec, 'n1', [check('a', 'passing')]), { status: 'passing', output: 'All checks passing.' });
  assert.deepEqual(aliasResult(spec, 'n1', [check('a', 'passing'), check('b', 'warning', 'db', 'slow')]), { status: 'warning', output: 'Aliased check "b" failing: slow' });
  assert.deepEqual(aliasResult(spec, 'n1', [check('b', 'warning'), check('c', 'critical', 'db', 'down'), check('d', 'warning')]), { status: 'critical', output: 'Aliased check "c" failing: down' });
  assert.deepEqual(aliasResult(spec, 'n1', undefined), { status: 'critical', output: 'Service db could not be found on node n1' });
  assert.deepEqual(aliasResult({ ...spec, node: 'n2' }, 'n1', undefined), { status: 'critical', output: 'Service db could not be found on node n2' });
});

test('alias: follows the source on every change, and stops following when stopped', async () => {
  let checks: CheckRecord[] | undefined = [check('a', 'critical', 'db', 'refused')];
  const listeners = new Set<() => void>();
  const source: AliasSource = {
    checksFor: (node, service) => (node === 'n1' && service === 'db' ? checks : undefined),
    subscribe: (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
  const reports: CheckResult[] = [];
  const alias = new AliasCheck('service:db-sidecar', spec, 'n1', source, (r) => reports.push(r));
  alias.start();
  await Promise.resolve();
  assert.deepEqual(reports, [{ status: 'critical', output: 'Aliased check "a" failing: refused' }]);
  checks = [check('a', 'passing')];
  for (const fn of listeners) fn();
  for (const fn of listeners) fn(); // a burst is evaluated once
  await Promise.resolve();
  assert.deepEqual(reports.slice(1), [{ status: 'passing', output: 'All checks passing.' }]);
  await alias.stop();
  assert.equal(listeners.size, 0);
});

test('alias: a remote node is read from the replicated catalog, by service ID or name', () => {
  const node: NodeCatalog = {
    node: 'n2', address: '10.0.0.2', datacenter: 'dc1', meta: {}, version: { generation: 1, seq: 1 },
    services: [{ id: 'db-1', name: 'db', kind: '', address: '', port: 5432, tags: [], meta: {}, weights: { passing: 1, warning: 1 }, enableTagOverride: false, namespace: 'default', source: 'api' }],
    checks: [check('serfHealth', 'passing', ''), check('service:db-1', 'warning', 'db-1'), check('other', 'critical', 'web')],
  };
  const catalog = { node: (name: string) => (name === 'n2' ? node : undefined), subscribe: () => () => {} } as unknown as CatalogReader;
  const source = aliasSourceFromCatalog(catalog);
  assert.deepEqual(source.checksFor('n2', 'db-1')!.map((c) => c.checkId), ['serfHealth', 'service:db-1']);
  assert.deepEqual(source.checksFor('n2', 'db')!.map((c) => c.checkId), ['serfHealth', 'service:db-1']);
  assert.equal(source.checksFor('n2', 'cache'), undefined);
  assert.equal(source.checksFor('n3', 'db'), undefined);
});
