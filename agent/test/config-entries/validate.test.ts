import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../src/catalog/types';
import { checkConfigEntry, validateConfigEntry } from '../../src/config-entries/validate';

type Bad = { name: string; entry: Record<string, unknown>; problems: Array<[field: string, message: RegExp]> };
type Good = { name: string; entry: Record<string, unknown>; expect?: Record<string, unknown> };

/** Runs a table: good entries validate (to `expect` when given) and re-validate unchanged; bad ones list exactly the problems. */
function table(kind: string, good: Good[], bad: Bad[]): void {
  for (const g of good) {
    test(`${kind} accepts: ${g.name}`, () => {
      const r = checkConfigEntry(g.entry);
      assert.deepEqual(r.problems, [], JSON.stringify(r.problems));
      if (g.expect !== undefined) assert.deepEqual(r.entry, g.expect);
      const again = checkConfigEntry(r.entry);
      assert.deepEqual(again.entry, r.entry, 'a stored entry validates to itself (as peers check it)');
      assert.equal(Object.keys(r.entry!)[0], 'Kind');
      assert.equal(Object.keys(r.entry!)[1], 'Name');
    });
  }
  for (const b of bad) {
    test(`${kind} refuses: ${b.name}`, () => {
      const r = checkConfigEntry(b.entry, 'web.hcl');
      assert.equal(r.entry, undefined);
      const got = r.problems.map((p) => `${p.field}: ${p.message}`);
      assert.equal(r.problems.length, b.problems.length, got.join('\n'));
      for (const [field, message] of b.problems) {
        assert.ok(r.problems.some((p) => p.field === field && message.test(p.message) && p.source === 'web.hcl'), `expected ${field}: ${message}; got\n${got.join('\n')}`);
      }
    });
  }
}

table('service-defaults', [
  { name: 'protocol, lower-cased', entry: { Kind: 'service-defaults', Name: 'web', Protocol: 'HTTP' }, expect: { Kind: 'service-defaults', Name: 'web', Protocol: 'http' } },
  {
    name: 'snake_case from HCL, upstream limits and passive health check',
    entry: {
      kind: 'service-defaults', name: 'web', protocol: 'grpc', mesh_gateway: { mode: 'local' },
      upstream_config: {
        defaults: { connect_timeout_ms: 2000, limits: { max_connections: 512, max_pending_requests: 128, max_concurrent_requests: 64 } },
        overrides: [{ name: 'db', passive_health_check: { interval: '10s', max_failures: 5, enforcing_consecutive_5xx: 80, max_ejection_percent: 50, base_ejection_time: '30s' } }],
      },
    },
    expect: {
      Kind: 'service-defaults', Name: 'web', Protocol: 'grpc', MeshGateway: { Mode: 'local' },
      UpstreamConfig: {
        Defaults: { ConnectTimeoutMs: 2000, Limits: { MaxConnections: 512, MaxPendingRequests: 128, MaxConcurrentRequests: 64 } },
        Overrides: [{ Name: 'db', PassiveHealthCheck: { Interval: '10s', MaxFailures: 5, EnforcingConsecutive5xx: 80, MaxEjectionPercent: 50, BaseEjectionTime: '30s' } }],
      },
    },
  },
  { name: 'read-only indexes from `config read` are dropped', entry: { Kind: 'service-defaults', Name: 'web', CreateIndex: 4, ModifyIndex: 9 }, expect: { Kind: 'service-defaults', Name: 'web' } },
  { name: 'destination (external service)', entry: { Kind: 'service-defaults', Name: 'ext', Destination: { Addresses: ['api.example.com', '10.0.0.1'], Port: 443 } } },
  { name: 'expose paths and transparent proxy', entry: { Kind: 'service-defaults', Name: 'web', Mode: 'transparent', TransparentProxy: { OutboundListenerPort: 15001 }, Expose: { Paths: [{ Path: '/metrics', LocalPathPort: 9102, ListenerPort: 21500, Protocol: 'http' }] } } },
], [
  {
    name: 'several problems at once',
    entry: { Kind: 'service-defaults', Name: '*', Protocol: 'udp', Bogus: 1, UpstreamConfig: { Defaults: { Name: 'x', Limits: { MaxConnections: -1 } } } },
    problems: [
      ['Name', /not a wildcard/],
      ['Protocol', /one of "tcp", "http", "http2", "grpc", got "udp"/],
      ['Bogus', /unknown field/],
      ['UpstreamConfig.Defaults.Name', /must be empty in Defaults/],
      ['UpstreamConfig.Defaults.Limits.MaxConnections', /between 0 and/],
    ],
  },
  { name: 'missing name', entry: { Kind: 'service-defaults', Protocol: 'http' }, problems: [['Name', /required/]] },
  { name: 'a field given twice in two spellings', entry: { Kind: 'service-defaults', Name: 'w', Protocol: 'http', protocol: 'tcp' }, problems: [['Protocol', /given twice/]] },
  { name: 'override without a name', entry: { Kind: 'service-defaults', Name: 'w', UpstreamConfig: { Overrides: [{ ConnectTimeoutMs: 5 }] } }, problems: [['UpstreamConfig.Overrides[0].Name', /required/]] },
  {
    name: 'Destination with UpstreamConfig; bad address; negative ejection',
    entry: { Kind: 'service-defaults', Name: 'w', Destination: { Addresses: ['not a host!'], Port: 0 }, UpstreamConfig: { Defaults: { PassiveHealthCheck: { MaxEjectionPercent: 101, Interval: 'soon' } } } },
    problems: [
      ['Destination.Addresses[0]', /IP address or a hostname/],
      ['Destination.Port', /between 1 and 65535/],
      ['UpstreamConfig.Defaults.PassiveHealthCheck.MaxEjectionPercent', /between 0 and 100/],
      ['UpstreamConfig.Defaults.PassiveHealthCheck.Interval', /duration/],
    ],
  },
  { name: 'Envoy escape hatches', entry: { Kind: 'service-defaults', Name: 'w', EnvoyExtensions: [] }, problems: [['EnvoyExtensions', /not supported by Shoal/]] },
  { name: 'wrong types', entry: { Kind: 'service-defaults', Name: 5, MaxInboundConnections: '10', Meta: { k: 1 } }, problems: [['Name', /expected a string/], ['MaxInboundConnections', /expected an integer/], ['Meta["k"]', /expected a string/]] },
]);

table('proxy-defaults', [
  { name: 'name defaults to global; opaque Config kept', entry: { Kind: 'proxy-defaults', Config: { protocol: 'http', local_connect_timeout_ms: 1000 } }, expect: { Kind: 'proxy-defaults', Name: 'global', Config: { protocol: 'http', local_connect_timeout_ms: 1000 } } },
  { name: 'access logs to a file', entry: { Kind: 'proxy-defaults', Name: 'global', AccessLogs: { Enabled: true, Type: 'file', Path: '/var/log/shoal/access.log' }, MeshGateway: { Mode: 'remote' } } },
], [
  { name: 'name other than global', entry: { Kind: 'proxy-defaults', Name: 'web' }, problems: [['Name', /must be "global"/]] },
  {
    name: 'access log type file without path; both formats',
    entry: { Kind: 'proxy-defaults', AccessLogs: { Type: 'file', JSONFormat: '{}', TextFormat: '%START_TIME%' }, Mode: 'sidecar' },
    problems: [['AccessLogs.Path', /required when Type is "file"/], ['AccessLogs.TextFormat', /mutually exclusive/], ['Mode', /one of/]],
  },
]);

table('service-resolver', [
  {
    name: 'subsets, default subset, failover per subset and wildcard, load balancer',
    entry: {
      kind: 'service-resolver', name: 'web', default_subset: 'v1', connect_timeout: '90s', request_timeout: '15s',
      subsets: { v1: { filter: 'Service.Meta.version == v1' }, v2: { filter: '"canary" in Service.Tags and Service.Meta.zone != b', only_passing: true } },
      failover: { '*': { datacenters: ['dc2', 'dc3'] }, v2: { targets: [{ service_subset: 'v1' }, { peer: 'east', service: 'web' }] } },
      load_balancer: { policy: 'ring_hash', ring_hash_config: { minimum_ring_size: 1024, maximum_ring_size: 8192 }, hash_policies: [{ field: 'header', field_value: 'x-user' }, { source_ip: true, terminal: true }] },
    },
    expect: {
      Kind: 'service-resolver', Name: 'web', DefaultSubset: 'v1',
      Subsets: { v1: { Filter: 'Service.Meta.version == v1' }, v2: { Filter: '"canary" in Service.Tags and Service.Meta.zone != b', OnlyPassing: true } },
      Failover: { '*': { Datacenters: ['dc2', 'dc3'] }, v2: { Targets: [{ ServiceSubset: 'v1' }, { Service: 'web', Peer: 'east' }] } },
      ConnectTimeout: '1m30s', RequestTimeout: '15s',
      LoadBalancer: { Policy: 'ring_hash', RingHashConfig: { MinimumRingSize: 1024, MaximumRingSize: 8192 }, HashPolicies: [{ Field: 'header', FieldValue: 'x-user' }, { SourceIP: true, Terminal: true }] },
    },
  },
  { name: 'redirect to another cluster', entry: { Kind: 'service-resolver', Name: 'web', Redirect: { Service: 'web', Datacenter: 'dc2' } } },
  { name: 'least_request with choice count', entry: { Kind: 'service-resolver', Name: 'web', LoadBalancer: { Policy: 'least_request', LeastRequestConfig: { ChoiceCount: 3 } } } },
], [
  {
    name: 'several problems at once',
    entry: {
      Kind: 'service-resolver', Name: 'web', DefaultSubset: 'v3', Subsets: { v1: { Filter: 'Service.Meta.version == v1' } },
      Failover: { v9: {} }, LoadBalancer: { Policy: 'round_robin', HashPolicies: [{ Field: 'header' }] }, ConnectTimeout: '-5s',
    },
    problems: [
      ['DefaultSubset', /"v3" is not a subset/],
      ['Failover["v9"]', /neither "\*" nor a subset/],
      ['Failover["v9"]', /needs one of Service/],
      ['LoadBalancer.HashPolicies', /only apply to the hash-based policies/],
      ['LoadBalancer.HashPolicies[0].FieldValue', /required with Field/],
      ['ConnectTimeout', /duration/],
    ],
  },
  {
    name: 'bad subset name and filter',
    entry: { Kind: 'service-resolver', Name: 'web', Subsets: { V2: { Filter: 'Service.Meta.version ==' }, ok: { Filter: 'Foo.Bar == 1' } } },
    problems: [['Subsets["V2"]', /DNS label/], ['Subsets["V2"].Filter', /not a valid filter expression/], ['Subsets["ok"].Filter', /must start with Service, Node, Checks/]],
  },
  {
    name: 'redirect with failover; empty redirect parts; unknown policy',
    entry: { Kind: 'service-resolver', Name: 'web', Redirect: { ServiceSubset: 'v1' }, Failover: { '*': { Service: 'x' } }, LoadBalancer: { Policy: 'fastest' } },
    problems: [
      ['Redirect', /Redirect and Failover cannot both be set/], ['Redirect.ServiceSubset', /needs Redirect.Service/],
      ['Redirect.ServiceSubset', /"v1" is not a subset of "web"/], ['LoadBalancer.Policy', /one of/],
    ],
  },
  {
    name: 'targets mixed with datacenters and service; ring hash config on maglev',
    entry: { Kind: 'service-resolver', Name: 'web', Failover: { '*': { Service: 'x', Datacenters: ['dc2'], Targets: [{ Peer: 'p', Datacenter: 'dc3' }] } }, LoadBalancer: { Policy: 'maglev', RingHashConfig: { MinimumRingSize: 1 } } },
    problems: [
      ['Failover["*"].Targets', /cannot be set with Datacenters/],
      ['Failover["*"].Service', /cannot be set with Targets/],
      ['Failover["*"].Targets[0].Datacenter', /cannot be set with Peer/],
      ['LoadBalancer.RingHashConfig', /only applies to Policy "ring_hash"/],
    ],
  },
]);

table('service-splitter', [
  {
    name: 'weights within 0.01 of 100, remainder to the first split',
    entry: { Kind: 'service-splitter', Name: 'web', Splits: [{ Weight: 33.333, ServiceSubset: 'v1' }, { Weight: 33.333, ServiceSubset: 'v2' }, { Weight: 33.333, ServiceSubset: 'v3' }] },
    expect: { Kind: 'service-splitter', Name: 'web', Splits: [{ Weight: 33.34, ServiceSubset: 'v1' }, { Weight: 33.33, ServiceSubset: 'v2' }, { Weight: 33.33, ServiceSubset: 'v3' }] },
  },
  { name: 'to another service with header changes', entry: { Kind: 'service-splitter', Name: 'web', Splits: [{ Weight: 90 }, { Weight: 10, Service: 'web-v2', RequestHeaders: { Set: { 'x-canary': '1' } } }] } },
], [
  { name: 'sum off by more than 0.01', entry: { Kind: 'service-splitter', Name: 'web', Splits: [{ Weight: 50, ServiceSubset: 'a' }, { Weight: 49.98, ServiceSubset: 'b' }] }, problems: [['Splits', /sum to 100, got 99.98/]] },
  {
    name: 'duplicate destination, negative weight, missing weight',
    entry: { Kind: 'service-splitter', Name: 'web', Splits: [{ Weight: 50, ServiceSubset: 'v1' }, { Weight: 50, ServiceSubset: 'v1' }, { Weight: -1 }, { Service: 'x' }] },
    problems: [['Splits[2].Weight', /at least 0/], ['Splits[3].Weight', /required/]],
  },
  { name: 'duplicate destination', entry: { Kind: 'service-splitter', Name: 'web', Splits: [{ Weight: 50, ServiceSubset: 'v1' }, { Weight: 50, ServiceSubset: 'v1' }] }, problems: [['Splits[1]', /more than once/]] },
  { name: 'no splits', entry: { Kind: 'service-splitter', Name: 'web', Splits: [] }, problems: [['Splits', /must not be empty/]] },
]);

table('service-router', [
  {
    name: 'path, header, query and method matches; retries and rewrite',
    entry: {
      Kind: 'service-router', Name: 'web',
      Routes: [
        { Match: { HTTP: { PathPrefix: '/admin', Methods: ['get', 'POST'], Header: [{ Name: 'x-debug', Present: true }], QueryParam: [{ Name: 'v', Exact: '2' }] } }, Destination: { Service: 'admin', PrefixRewrite: '/', RequestTimeout: '2s', NumRetries: 3, RetryOnConnectFailure: true, RetryOnStatusCodes: [503], RetryOn: ['5xx'] } },
        { Match: { HTTP: { PathRegex: '^/v[0-9]+/' } }, Destination: { ServiceSubset: 'v2' } },
      ],
    },
  },
], [
  {
    name: 'several problems across routes',
    entry: {
      Kind: 'service-router', Name: 'web',
      Routes: [
        { Match: { HTTP: { PathPrefix: '/admin', PathExact: '/x', Methods: ['get', 'FETCH', 'GET'], Header: [{ Name: 'x', Exact: 'a', Prefix: 'b' }] } }, Destination: { RetryOnStatusCodes: [700] } },
        { Match: { HTTP: { PathRegex: '/(' } } },
        { Match: { HTTP: { Header: [{ Exact: 'a' }] } }, Destination: { PrefixRewrite: '/v2' } },
        { Match: { HTTP: { PathExact: 'no-slash' } } },
      ],
    },
    problems: [
      ['Routes[0].Match.HTTP.PathPrefix', /only one of PathExact, PathPrefix, PathRegex/],
      ['Routes[0].Match.HTTP.Methods[1]', /must be one of GET/],
      ['Routes[0].Match.HTTP.Methods[2]', /more than once/],
      ['Routes[0].Match.HTTP.Header[0].Prefix', /only one of Present, Exact/],
      ['Routes[0].Destination.RetryOnStatusCodes[0]', /between 100 and 599/],
      ['Routes[1].Match.HTTP.PathRegex', /not a valid regular expression/],
      ['Routes[2].Match.HTTP.Header[0].Name', /required/],
      ['Routes[3].Match.HTTP.PathExact', /starting with "\/"/],
    ],
  },
  {
    name: 'prefix rewrite without a path match',
    entry: { Kind: 'service-router', Name: 'web', Routes: [{ Match: { HTTP: { Methods: ['GET'] } }, Destination: { PrefixRewrite: '/' } }] },
    problems: [['Routes[0].Destination.PrefixRewrite', /needs Match.HTTP.PathExact or Match.HTTP.PathPrefix/]],
  },
  { name: 'unknown retry condition', entry: { Kind: 'service-router', Name: 'web', Routes: [{ Destination: { RetryOn: ['sometimes'] } }] }, problems: [['Routes[0].Destination.RetryOn[0]', /one of/]] },
]);

table('service-intentions', [
  {
    name: 'exact sources before wildcards; precedence computed; L7 permissions',
    entry: {
      Kind: 'service-intentions', Name: 'db',
      Sources: [
        { Name: '*', Action: 'deny' },
        { Name: 'web', Action: 'ALLOW', Description: 'the web tier' },
        { Name: 'api', Permissions: [{ Action: 'allow', HTTP: { PathPrefix: '/v1', Methods: ['get'] } }, { Action: 'deny', HTTP: { Header: [{ Name: 'x-admin', Present: true }] } }] },
      ],
    },
    expect: {
      Kind: 'service-intentions', Name: 'db',
      Sources: [
        { Name: 'web', Action: 'allow', Type: 'consul', Description: 'the web tier', Precedence: 9 },
        { Name: 'api', Permissions: [{ Action: 'allow', HTTP: { PathPrefix: '/v1', Methods: ['GET'] } }, { Action: 'deny', HTTP: { Header: [{ Name: 'x-admin', Present: true }] } }], Type: 'consul', Precedence: 9 },
        { Name: '*', Action: 'deny', Type: 'consul', Precedence: 8 },
      ],
    },
  },
  {
    name: 'wildcard destination: precedence 6 and 5',
    entry: { Kind: 'service-intentions', Name: '*', Sources: [{ Name: '*', Action: 'deny' }, { Name: 'web', Action: 'allow', Precedence: 1 }] },
    expect: {
      Kind: 'service-intentions', Name: '*',
      Sources: [{ Name: 'web', Action: 'allow', Precedence: 6, Type: 'consul' }, { Name: '*', Action: 'deny', Precedence: 5, Type: 'consul' }],
    },
  },
], [
  {
    name: 'Action and Permissions together, empty HTTP, partial wildcard, bad action, duplicate source',
    entry: {
      Kind: 'service-intentions', Name: 'db',
      Sources: [
        { Name: 'web', Action: 'allow', Permissions: [{ Action: 'allow', HTTP: {} }] },
        { Name: 'we*b', Action: 'allow' },
        { Name: 'api', Action: 'maybe' },
        { Name: 'cache', Action: 'allow' },
        { Name: 'cache', Action: 'deny' },
        { Name: 'queue' },
      ],
    },
    problems: [
      ['Sources[0].Permissions[0].HTTP', /at least one of PathExact/],
      ['Sources[1].Name', /partial values/],
      ['Sources[2].Action', /one of "allow", "deny"/],
      ['Sources[4]', /more than once/],
      ['Sources[5].Action', /must be "allow" or "deny"/],
    ],
  },
  {
    name: 'action with permissions',
    entry: { Kind: 'service-intentions', Name: 'db', Sources: [{ Name: 'web', Action: 'allow', Permissions: [{ Action: 'allow', HTTP: { PathExact: '/' } }] }] },
    problems: [['Sources[0].Action', /omitted when Permissions/]],
  },
  {
    name: 'permissions on a wildcard destination',
    entry: { Kind: 'service-intentions', Name: '*', Sources: [{ Name: 'web', Permissions: [{ Action: 'allow', HTTP: { PathExact: '/' } }] }, { Name: 'api', Action: 'deny' }] },
    problems: [['Sources[0].Permissions', /wildcard destination/]],
  },
  {
    name: 'exact name after a wildcard namespace',
    entry: { Kind: 'service-intentions', Name: 'db', Namespace: '*', Sources: [{ Name: 'api', Namespace: '*', Action: 'deny' }] },
    problems: [['Name', /exact name cannot follow a wildcard namespace/], ['Sources[0].Name', /exact name cannot follow a wildcard namespace/]],
  },
  { name: 'no sources', entry: { Kind: 'service-intentions', Name: 'db' }, problems: [['Sources', /at least one source/]] },
  { name: 'legacy and JWT fields', entry: { Kind: 'service-intentions', Name: 'db', Sources: [{ Name: 'a', Action: 'allow', LegacyID: 'x' }], JWT: {} }, problems: [['Sources[0].LegacyID', /unknown field/], ['JWT', /not supported/]] },
]);

table('exported-services', [
  { name: 'to peers and sameness groups', entry: { Kind: 'exported-services', Name: 'default', Services: [{ Name: 'web', Consumers: [{ Peer: 'east' }, { SamenessGroup: 'prod' }] }, { Name: '*', Namespace: '*', Consumers: [{ Peer: 'west' }] }] } },
], [
  {
    name: 'consumers missing or ambiguous, partition name',
    entry: { Kind: 'exported-services', Name: 'frontend', Services: [{ Name: 'web', Consumers: [] }, { Name: 'db', Consumers: [{ Peer: 'a', SamenessGroup: 'b' }] }, { Consumers: [{ Peer: 'a' }] }] },
    problems: [
      ['Name', /must be "default"/],
      ['Services[0].Consumers', /must not be empty/],
      ['Services[1].Consumers[0].SamenessGroup', /only one of Peer, Partition, SamenessGroup/],
      ['Services[2].Name', /required/],
    ],
  },
]);

table('mesh', [
  {
    name: 'TLS, HTTP normalization and peering',
    entry: {
      Kind: 'mesh', TransparentProxy: { MeshDestinationsOnly: true },
      TLS: { Incoming: { TLSMinVersion: 'TLSv1_2', TLSMaxVersion: 'TLSv1_3', CipherSuites: ['TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256'] } },
      HTTP: { SanitizeXForwardedClientCert: true, Incoming: { RequestNormalization: { MergeSlashes: true, HeadersWithUnderscoresAction: 'REJECT_REQUEST' } } },
      Peering: { PeerThroughMeshGateways: true },
    },
  },
], [
  {
    name: 'max below min, suites under TLS 1.3, unknown suite',
    entry: { Kind: 'mesh', Name: 'mesh', TLS: { Incoming: { TLSMinVersion: 'TLSv1_3', TLSMaxVersion: 'TLSv1_2', CipherSuites: ['TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'] }, Outgoing: { CipherSuites: ['TLS_RSA_WITH_RC4'] } } },
    problems: [
      ['TLS.Incoming.TLSMaxVersion', /below TLSMinVersion/],
      ['TLS.Incoming.CipherSuites', /TLSv1_3/],
      ['TLS.Outgoing.CipherSuites[0]', /one of/],
    ],
  },
  { name: 'another name', entry: { Kind: 'mesh', Name: 'other' }, problems: [['Name', /must be "mesh"/]] },
]);

test('kind must be known; the whole entry must be an object of bounded size', () => {
  assert.deepEqual(checkConfigEntry({ Name: 'x' }).problems.map((p) => p.field), ['Kind']);
  assert.match(checkConfigEntry({ Kind: 'ingress-gateway', Name: 'x' }).problems[0]!.message, /must be one of service-defaults/);
  assert.match(checkConfigEntry([1]).problems[0]!.message, /expected an object/);
  assert.match(checkConfigEntry({ Kind: 'proxy-defaults', Config: { big: 'x'.repeat(300_000) } }).problems[0]!.message, /limit is 262144/);
});

test('validateConfigEntry throws a ValidationError naming source, field and problem', () => {
  assert.throws(() => validateConfigEntry({ Kind: 'service-defaults', Name: 'w', Protocol: 'udp', Mode: 'x' }, 'defaults.hcl'), (err: unknown) => {
    assert.ok(err instanceof ValidationError);
    assert.equal(err.problems.length, 2);
    assert.match(err.message, /^defaults\.hcl: Protocol: must be one of/m);
    assert.match(err.message, /^defaults\.hcl: Mode: must be one of/m);
    return true;
  });
});
