import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDefinitionDocuments, parseRegistration } from '../../src/catalog/definition';
import { setProblems } from '../../src/catalog/definition-set';
import type { ValidationProblem } from '../../src/catalog/types';
import { parseHclText } from '../../src/config/sources';

async function hcl(file: string, text: string): Promise<{ source: string; raw: unknown }> {
  const r = await parseHclText(file, text);
  assert.ok('raw' in r, `HCL did not parse: ${JSON.stringify(r)}`);
  return { source: file, raw: r.raw };
}

const render = (ps: readonly ValidationProblem[]): string[] => ps.map((p) => `${p.source}: ${p.field}: ${p.message}`);

test('definition: an HCL service with checks and a sidecar, Consul defaults filled in', async () => {
  const doc = await hcl('/etc/shoal/web.hcl', `
    service {
      name = "web"
      port = 8080
      tags = ["v1", "primary"]
      meta = { version = "1.2" }
      weights {
        passing = 10
        warning = 1
      }
      check {
        http     = "http://127.0.0.1:8080/health"
        interval = "10s"
        header   = { Authorization = ["Bearer x"] }
      }
      checks = [ { tcp = "127.0.0.1:8080", interval = "5s", timeout = "1s" } ]
      connect {
        sidecar_service {
          proxy {
            upstreams = [ { destination_name = "db", local_bind_port = 9191, config = { connect_timeout_ms = 500 } } ]
          }
        }
      }
    }`);
  const { set, problems } = parseDefinitionDocuments([doc]);
  assert.deepEqual(problems, []);
  assert.equal(set.services.length, 1);
  const d = set.services[0]!;
  assert.deepEqual(d.service, {
    id: 'web', name: 'web', kind: '', address: '', port: 8080, tags: ['v1', 'primary'], meta: { version: '1.2' },
    weights: { passing: 10, warning: 1 }, enableTagOverride: false, namespace: 'default', source: '/etc/shoal/web.hcl',
  });
  assert.deepEqual(d.checks.map((c) => [c.id, c.name, c.spec.type, c.intervalMs, c.timeoutMs, c.initialStatus]), [
    ['service:web:1', "Service 'web' check", 'http', 10_000, 10_000, 'critical'],
    ['service:web:2', "Service 'web' check", 'tcp', 5_000, 1_000, 'critical'],
  ]);
  assert.deepEqual(d.checks[0]!.spec, {
    type: 'http', url: 'http://127.0.0.1:8080/health', method: 'GET', header: { Authorization: ['Bearer x'] }, body: '',
    tlsSkipVerify: false, tlsServerName: '', disableRedirects: false,
  });
  const sc = d.sidecar!;
  assert.equal(sc.autoPort, true);
  assert.deepEqual({ ...sc.service, proxy: undefined }, {
    id: 'web-sidecar-proxy', name: 'web-sidecar-proxy', kind: 'connect-proxy', address: '', port: 0,
    tags: ['v1', 'primary'], meta: { version: '1.2' }, weights: { passing: 1, warning: 1 }, enableTagOverride: false,
    namespace: 'default', proxy: undefined, source: '/etc/shoal/web.hcl',
  });
  assert.deepEqual(sc.service.proxy, {
    destinationServiceName: 'web', destinationServiceId: 'web', localServiceAddress: '127.0.0.1', localServicePort: 8080,
    upstreams: [{ destinationName: 'db', destinationNamespace: 'default', datacenter: '', localBindAddress: '127.0.0.1', localBindPort: 9191, config: { connect_timeout_ms: 500 } }],
    config: {},
  });
  // A sidecar without checks mirrors its service.
  assert.deepEqual(sc.checks.map((c) => [c.id, c.name, c.spec]), [
    ['service:web-sidecar-proxy', 'Connect Sidecar Aliasing web', { type: 'alias', service: 'web', node: '' }],
  ]);
});

test('definition: a single check gets the ID service:<id>; scripts default to a 30 s timeout', async () => {
  const doc = await hcl('a.hcl', `
    service {
      name = "batch"
      id   = "batch-1"
      check {
        args     = ["/usr/local/bin/check", "--quick"]
        interval = "30s"
      }
    }`);
  const { set, problems } = parseDefinitionDocuments([doc]);
  assert.deepEqual(problems, []);
  assert.deepEqual(set.services[0]!.checks.map((c) => [c.id, c.timeoutMs, c.timeoutText, c.spec]), [
    ['service:batch-1', 30_000, '30s', { type: 'script', args: ['/usr/local/bin/check', '--quick'] }],
  ]);
});

test('definition: JSON files with services [ ... ] and top-level checks', () => {
  const { set, problems } = parseDefinitionDocuments([{
    source: 'svc.json',
    raw: {
      services: [{ name: 'a', port: 1 }, { name: 'b', id: 'b-1', port: 2, check: { ttl: '30s' } }],
      checks: [{ name: 'disk', args: ['df'], interval: '1m' }, { id: 'b-http', name: 'b http', service_id: 'b-1', http: 'http://127.0.0.1:2/', interval: '10s' }],
    },
  }]);
  assert.deepEqual(problems, []);
  assert.deepEqual(set.services.map((d) => [d.field, d.service.id]), [['services[0]', 'a'], ['services[1]', 'b-1']]);
  assert.deepEqual(set.services[1]!.checks.map((c) => [c.id, c.spec]), [['service:b-1', { type: 'ttl', ttlMs: 30_000 }]]);
  assert.deepEqual(set.checks.map((c) => [c.field, c.check.id, c.check.serviceId]), [['checks[0]', 'disk', ''], ['checks[1]', 'b-http', 'b-1']]);
  assert.deepEqual(setProblems(set), []);
});

test('definition: a PascalCase API body, as Consul clients send it', () => {
  const { definition, problems } = parseRegistration({
    Name: 'api',
    ID: 'api-1',
    Port: 9000,
    Tags: ['x'],
    Meta: { Team: 'core' },
    EnableTagOverride: true,
    Weights: { Passing: 3, Warning: 0 },
    Check: { CheckID: 'api-ttl', TTL: '15s', Notes: 'app reports', Status: 'passing' },
    Connect: { SidecarService: { Port: 21500, Proxy: { Upstreams: [{ DestinationName: 'db', LocalBindPort: 6000, Datacenter: 'eu' }] } } },
  });
  assert.deepEqual(problems, []);
  const d = definition!;
  assert.equal(d.service.source, 'api');
  assert.deepEqual([d.service.id, d.service.meta, d.service.weights, d.service.enableTagOverride], ['api-1', { Team: 'core' }, { passing: 3, warning: 0 }, true]);
  assert.deepEqual(d.checks.map((c) => [c.id, c.notes, c.initialStatus, c.spec]), [['api-ttl', 'app reports', 'passing', { type: 'ttl', ttlMs: 15_000 }]]);
  assert.deepEqual([d.sidecar!.service.port, d.sidecar!.autoPort], [21500, false]);
  assert.equal(d.sidecar!.service.proxy!.upstreams[0]!.datacenter, 'eu');
  // camelCase (the consul npm client passes nested upstreams through as written) reads the same.
  const camel = parseRegistration({ name: 'x', port: 1, connect: { sidecarService: { proxy: { upstreams: [{ destinationName: 'db', localBindPort: 6001 }] } } } });
  assert.deepEqual(camel.problems, []);
  assert.equal(camel.definition!.sidecar!.service.proxy!.upstreams[0]!.localBindPort, 6001);
});

test('definition: a connect-proxy service registered on its own', () => {
  const { definition, problems } = parseRegistration({
    Name: 'web-proxy', Kind: 'connect-proxy', Port: 21001,
    Proxy: { DestinationServiceName: 'web', LocalServicePort: 8080, Upstreams: [{ DestinationName: 'db', LocalBindPort: 7000 }] },
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(definition!.service.proxy, {
    destinationServiceName: 'web', destinationServiceId: '', localServiceAddress: '127.0.0.1', localServicePort: 8080,
    upstreams: [{ destinationName: 'db', destinationNamespace: 'default', datacenter: '', localBindAddress: '127.0.0.1', localBindPort: 7000, config: {} }],
    config: {},
  });
  assert.deepEqual(render(parseRegistration({ Name: 'p', Kind: 'connect-proxy' }).problems), [
    'request body: port: a connect-proxy service needs a port from 1 to 65535',
    'request body: proxy.destination_service_name: is required for a connect-proxy service',
  ]);
});

test('definition: every mistake in a file is reported at once, each with its field', async () => {
  const doc = await hcl('/etc/shoal/bad.hcl', `
    service {
      name  = "web_app"
      port  = 70000
      tags  = ["ok", 5]
      meta  = { "bad key" = "v", long = "${'v'.repeat(600)}" }
      colour = "blue"
      weights {
        passing = 0
      }
      check {
        http = "http://127.0.0.1/health"
      }
      checks = [
        { tcp = "127.0.0.1:1", ttl = "10s", interval = "5s" },
        { grpc = "127.0.0.1:2", interval = "soon" },
        { ttl = "0s" },
        { alias_service = "db", interval = "10s" },
        { args = [], interval = "10s" },
        { http = "ftp://x", interval = "1s", method = "G E T", status = "ok" },
      ]
      connect {
        sidecar_service {
          proxy {
            upstreams = [ { destination_name = "db" }, { local_bind_port = 9000, local_bind_address = "localhost" } ]
          }
        }
      }
    }`);
  const { problems } = parseDefinitionDocuments([doc]);
  assert.deepEqual(render(problems), [
    '/etc/shoal/bad.hcl: service.colour: unknown field',
    '/etc/shoal/bad.hcl: service.name: expected 1-63 letters, digits or dashes, not starting or ending with a dash, got "web_app"',
    '/etc/shoal/bad.hcl: service.port: expected an integer from 0 to 65535, got 70000',
    '/etc/shoal/bad.hcl: service.tags[1]: expected a string, got 5',
    '/etc/shoal/bad.hcl: service.meta.bad key: expected a key of 1-128 letters, digits, "_" or "-"',
    '/etc/shoal/bad.hcl: service.meta.long: expected a value of at most 512 characters, got 600',
    '/etc/shoal/bad.hcl: service.weights.passing: expected an integer from 1 to 65535, got 0',
    '/etc/shoal/bad.hcl: service.check.interval: is required for http checks',
    '/etc/shoal/bad.hcl: service.checks[0]: expected exactly one check kind, got tcp and ttl',
    '/etc/shoal/bad.hcl: service.checks[1].interval: expected a duration such as "10s" or "1m30s", got "soon"',
    '/etc/shoal/bad.hcl: service.checks[2].ttl: expected a duration greater than 0',
    '/etc/shoal/bad.hcl: service.checks[3].interval: does not apply to alias checks',
    '/etc/shoal/bad.hcl: service.checks[4].args: expected the command and its arguments, got an empty list',
    '/etc/shoal/bad.hcl: service.checks[5].status: expected one of passing, warning, critical, got "ok"',
    '/etc/shoal/bad.hcl: service.checks[5].http: expected an http:// or https:// URL, got "ftp://x"',
    '/etc/shoal/bad.hcl: service.checks[5].method: expected an HTTP method such as GET or POST, got "G E T"',
    '/etc/shoal/bad.hcl: service.connect.sidecar_service.proxy.upstreams[0].local_bind_port: is required: the local port the application connects to',
    '/etc/shoal/bad.hcl: service.connect.sidecar_service.proxy.upstreams[1].destination_name: is required',
    '/etc/shoal/bad.hcl: service.connect.sidecar_service.proxy.upstreams[1].local_bind_address: expected an IP address, got "localhost"',
  ]);
});

test('definition: a missing name, an unknown top-level key and a sidecar of a port-less service', () => {
  const { problems } = parseDefinitionDocuments([
    { source: 'a.json', raw: { service: { port: 80 }, servises: [] } },
    { source: 'b.json', raw: { service: { name: 'noport', connect: { sidecar_service: {} } } } },
    { source: 'c.json', raw: { check: { ttl: '5s' } } },
  ]);
  assert.deepEqual(render(problems), [
    'a.json: servises: unknown field',
    'a.json: service.name: is required',
    'b.json: service.connect.sidecar_service.proxy.local_service_port: is required when the service has no port: the sidecar forwards to it',
    'c.json: check.name: is required for a check outside a service',
  ]);
});

test('definition: meta limits are Consul\'s (64 pairs) and unknown API fields are named', () => {
  const meta = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
  assert.deepEqual(render(parseRegistration({ Name: 'a', Meta: meta, TaggedAddresses: {}, Check: { TTL: '1s', OutputMaxSize: 10 } }).problems), [
    'request body: TaggedAddresses: unknown field',
    'request body: Meta: expected at most 64 pairs, got 65',
    'request body: Check.OutputMaxSize: unknown field',
  ]);
  assert.deepEqual(render(parseRegistration({ Name: 'a', name: 'b' }).problems), ['request body: name: given twice (also as Name)']);
  assert.deepEqual(render(parseRegistration([1]).problems), ['request body: : expected a JSON object describing the service, got a list']);
});

test('definition set: duplicate IDs across files, duplicate upstream ports, unknown service_id', () => {
  const { set, problems } = parseDefinitionDocuments([
    { source: 'a.json', raw: { service: { name: 'web', port: 80, connect: { sidecar_service: { proxy: { upstreams: [{ destination_name: 'db', local_bind_port: 9000 }] } } } } } },
    { source: 'b.json', raw: { service: { name: 'web', port: 81 }, checks: [{ name: 'x', service_id: 'nope', ttl: '5s' }] } },
    { source: 'c.json', raw: { service: { name: 'api', port: 82, connect: { sidecar_service: { proxy: { upstreams: [{ destination_name: 'db', local_bind_port: 9000 }] } } } } } },
  ]);
  assert.deepEqual(problems, []);
  assert.deepEqual(render(setProblems(set)), [
    'b.json: service.id: duplicate service ID "web": also defined in a.json at service',
    'b.json: checks[0].service_id: no service with ID "nope" is defined',
    'c.json: service.connect.sidecar_service.proxy.upstreams[0].local_bind_port: port 9000 is already used by a.json at service.connect.sidecar_service.proxy.upstreams[0].local_bind_port',
  ]);
});

test('definition: reserved check IDs and over-long derived sidecar names are refused', () => {
  const long = `a${'b'.repeat(55)}`; // 56 characters: "-sidecar-proxy" makes it 70
  assert.deepEqual(render(parseRegistration({ Name: long, Port: 1, Connect: { SidecarService: {} }, Check: { CheckID: 'serfHealth', TTL: '1s' } }).problems), [
    'request body: Check.CheckID: "serfHealth" is reserved for the agent\'s own checks',
    `request body: Connect.SidecarService.name: the default sidecar name "${long}-sidecar-proxy" is longer than 63 characters: set a shorter name`,
  ]);
});

test('data-plane settings in proxy and upstream config: unusable values are refused with their field, every one listed', async () => {
  const doc = await hcl('/etc/shoal/web.hcl', `
service {
  name = "web"
  port = 8080
  connect {
    sidecar_service {
      proxy {
        config = { local_connect_timeout_ms = -1, local_idle_timeout_ms = 1000, other_tool_key = "kept" }
        upstreams = [{
          destination_name = "api"
          local_bind_port = 9191
          config = {
            connect_timeout_ms = "5 seconds"
            max_attempts = 0
            passive_health_check = { max_failures = 3, base_ejection_time = "soon", max_ejection_percent = 150 }
          }
        }]
      }
    }
  }
}
`);
  const { problems } = parseDefinitionDocuments([doc]);
  const lines = render(problems);
  const expect = [
    /proxy\.config\.local_connect_timeout_ms: expected whole milliseconds from 1 to 600000, got -1/,
    /upstreams\[0\]\.config\.connect_timeout_ms: expected whole milliseconds/,
    /upstreams\[0\]\.config\.max_attempts: expected an integer from 1 to 10, got 0/,
    /upstreams\[0\]\.config\.passive_health_check\.base_ejection_time: expected a duration/,
    /upstreams\[0\]\.config\.passive_health_check\.max_ejection_percent: expected an integer from 0 to 100, got 150/,
  ];
  for (const re of expect) assert.ok(lines.some((l) => re.test(l)), `${re} in:\n${lines.join('\n')}`);
  assert.equal(lines.length, expect.length, lines.join('\n'));
  assert.ok(lines.every((l) => l.startsWith('/etc/shoal/web.hcl: ')));

  const ok = parseRegistration({
    Name: 'web', Port: 8080,
    Connect: { SidecarService: { Proxy: { Config: { local_idle_timeout_ms: 60000 }, Upstreams: [{ DestinationName: 'api', LocalBindPort: 9191, Config: { connect_timeout_ms: 2000, max_attempts: 2, passive_health_check: { max_failures: 2, base_ejection_time: '10s' } } }] } } },
  });
  assert.deepEqual(ok.problems, []);
});
