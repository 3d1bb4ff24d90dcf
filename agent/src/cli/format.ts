/**
 * Text output of the CLI, shaped like Consul's so operators read it at a glance: `shoal members`
 * prints the columns of `consul members`.
 */
import type { KeyringReportJson, MemberJson } from '../http';

/** Lays rows out in columns separated by two spaces; the last column is not padded. */
export function columnize(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

const SERF_STATUS = ['none', 'alive', 'leaving', 'left', 'failed'];

/** The Status column: alive, suspect, failed, left (from Shoal's state, or serf's code from Consul). */
export function memberStatus(m: MemberJson): string {
  switch (m.State) {
    case 'alive':
    case 'suspect':
    case 'left':
      return m.State;
    case 'dead':
      return 'failed';
    default:
      return SERF_STATUS[m.Status] ?? 'unknown';
  }
}

/** The Type column: server or client (Shoal's role tag, or Consul's role=consul). */
export function memberType(m: MemberJson): string {
  const role = m.Tags['role'] ?? '';
  return role.split(',').includes('server') || role === 'consul' ? 'server' : 'client';
}

function address(m: MemberJson): string {
  return m.Addr.includes(':') ? `[${m.Addr}]:${m.Port}` : `${m.Addr}:${m.Port}`;
}

/** `shoal members`: Node, Address, Status, Type, Build, Protocol, DC; or Node, Address, Status, Tags with `detailed`. */
export function formatMembers(members: readonly MemberJson[], opts: { detailed?: boolean; status?: RegExp } = {}): string {
  const sorted = [...members]
    .filter((m) => opts.status === undefined || opts.status.test(memberStatus(m)))
    .sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
  if (opts.detailed === true) {
    const rows = sorted.map((m) => [
      m.Name, address(m), memberStatus(m),
      Object.keys(m.Tags).sort().map((k) => `${k}=${m.Tags[k]}`).join(','),
    ]);
    return columnize([['Node', 'Address', 'Status', 'Tags'], ...rows]);
  }
  const rows = sorted.map((m) => [
    m.Name, address(m), memberStatus(m), memberType(m),
    (m.Tags['build'] ?? '').split(':')[0]!, String(m.ProtocolCur), m.Tags['dc'] ?? '',
  ]);
  return columnize([['Node', 'Address', 'Status', 'Type', 'Build', 'Protocol', 'DC'], ...rows]);
}

/** `shoal keyring -list`: per pool, each key with how many members hold it, and the primary keys. */
export function formatKeyringList(reports: readonly KeyringReportJson[]): string {
  const out = ['==> Gathering installed encryption keys...'];
  for (const r of reports) {
    out.push('', r.WAN ? 'WAN:' : `${r.Datacenter} (LAN):`);
    const line = (k: string, n: number): string => `    ${k} [${n}/${r.NumNodes}]`;
    out.push('  Keys:', ...Object.entries(r.Keys).map(([k, n]) => line(k, n)));
    out.push('  Primary keys:', ...Object.entries(r.PrimaryKeys).map(([k, n]) => line(k, n)));
    const failed = Object.entries(r.Messages);
    if (failed.length > 0) {
      out.push(`  Failed or did not answer (${failed.length}):`, ...failed.map(([node, msg]) => `    ${node}: ${msg}`));
    }
  }
  return out.join('\n');
}
