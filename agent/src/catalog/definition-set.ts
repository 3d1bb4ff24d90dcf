/**
 * Rules that span definitions: IDs unique across every file (and the API registrations that stay),
 * checks bound to services that exist, no two upstreams or sidecars wanting the same local port.
 * Problems name the candidate definition (its file and path) and where the other one is.
 */
import type { DefinitionSet, ServiceDefinition } from './definition';
import type { Upstream, ValidationProblem } from './types';

interface Where {
  source: string;
  field: string;
}

const EMPTY: DefinitionSet = { services: [], checks: [] };

/**
 * Problems of `candidates` taken together and next to `others` (definitions already in force that
 * will stay). Conflicts inside `others` are not reported: they were accepted before.
 */
export function setProblems(candidates: DefinitionSet, others: DefinitionSet = EMPTY): ValidationProblem[] {
  const problems: ValidationProblem[] = [];
  const add = (at: Where, field: string, message: string): void => {
    problems.push({ source: at.source, field: joinField(at.field, field), message });
  };
  const where = (w: Where): string => (w.field === '' ? w.source : `${w.source} at ${w.field}`);

  // Service IDs, sidecars included.
  const serviceIds = new Map<string, Where>();
  for (const [set, report] of [[others, false], [candidates, true]] as const) {
    for (const d of set.services) {
      const ids: [string, Where][] = [[d.service.id, { source: d.source, field: d.field }]];
      if (d.sidecar !== undefined) ids.push([d.sidecar.service.id, { source: d.source, field: d.sidecar.field }]);
      for (const [id, at] of ids) {
        const prev = serviceIds.get(id);
        if (prev !== undefined && report) add(at, 'id', `duplicate service ID ${JSON.stringify(id)}: also defined in ${where(prev)}`);
        else if (prev === undefined) serviceIds.set(id, at);
      }
    }
  }

  // Check IDs.
  const checkIds = new Map<string, Where>();
  for (const [set, report] of [[others, false], [candidates, true]] as const) {
    const all: [string, Where][] = [];
    for (const d of set.services) {
      for (const c of [...d.checks, ...(d.sidecar?.checks ?? [])]) all.push([c.id, { source: d.source, field: d.field }]);
    }
    for (const c of set.checks) all.push([c.check.id, { source: c.source, field: c.field }]);
    for (const [id, at] of all) {
      const prev = checkIds.get(id);
      if (prev !== undefined && report) add(at, '', `duplicate check ID ${JSON.stringify(id)}: also defined in ${where(prev)}`);
      else if (prev === undefined) checkIds.set(id, at);
    }
  }

  // Top-level checks bound to a service.
  for (const c of candidates.checks) {
    if (c.check.serviceId !== '' && !serviceIds.has(c.check.serviceId)) {
      add(c, 'service_id', `no service with ID ${JSON.stringify(c.check.serviceId)} is defined`);
    }
  }

  // Local ports: upstream listeners and explicit sidecar ports, all on this node.
  const listening = new Map<number, { addr: string; at: Where }[]>();
  for (const [set, report] of [[others, false], [candidates, true]] as const) {
    for (const d of set.services) {
      for (const l of listenersOf(d)) {
        const same = listening.get(l.port) ?? [];
        const clash = same.find((o) => o.addr === l.addr || isWildcard(o.addr) || isWildcard(l.addr));
        if (clash !== undefined && report) {
          add(l.at, '', `port ${l.port} is already used by ${where(clash.at)}`);
        } else if (clash === undefined) {
          same.push({ addr: l.addr, at: l.at });
          listening.set(l.port, same);
        }
      }
    }
  }
  return problems;
}

/** The local listeners a definition asks for: its upstreams and an explicitly set sidecar port. */
export function listenersOf(d: ServiceDefinition): { addr: string; port: number; at: Where }[] {
  const out: { addr: string; port: number; at: Where }[] = [];
  const collect = (upstreams: readonly Upstream[], fields: readonly string[]): void => {
    upstreams.forEach((u, i) => {
      out.push({ addr: u.localBindAddress, port: u.localBindPort, at: { source: d.source, field: joinField(fields[i] ?? d.field, 'local_bind_port') } });
    });
  };
  collect(d.service.proxy?.upstreams ?? [], d.upstreamFields);
  if (d.sidecar !== undefined) {
    collect(d.sidecar.service.proxy?.upstreams ?? [], d.sidecar.upstreamFields);
    // The inbound listener binds every address.
    if (!d.sidecar.autoPort) out.push({ addr: '0.0.0.0', port: d.sidecar.service.port, at: { source: d.source, field: joinField(d.sidecar.field, 'port') } });
  }
  return out;
}

function isWildcard(addr: string): boolean {
  return addr === '0.0.0.0' || addr === '::';
}

function joinField(base: string, field: string): string {
  if (field === '') return base;
  return base === '' ? field : `${base}.${field}`;
}
