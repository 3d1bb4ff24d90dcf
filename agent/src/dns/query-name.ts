/**
 * What a query name asks for, in Consul's DNS grammar under Shoal's domain (default `shoal`):
 *
 *   [<tag>.]<service>.service[.<dc>].<domain>    instances of a service, optionally with a tag
 *   _<service>._<tag>.service[.<dc>].<domain>    RFC 2782 form; `_tcp` means no tag filter
 *   <service>.connect[.<dc>].<domain>            the service's sidecar proxies
 *   <node>.node[.<dc>].<domain>                  a node's address
 *   <hex-ip>.addr[.<dc>].<domain>                an address (SRV targets of services with their own)
 *
 * Names are matched case-insensitively (RFC 4343). The lookup type is found from the right, so a
 * service named `node` still resolves as `node.service.shoal`.
 */

/** A parsed query name. */
export type DnsLookup =
  | { kind: 'apex' }
  | { kind: 'service'; service: string; tag: string | undefined; datacenter: string | undefined; connect: boolean }
  | { kind: 'node'; node: string; datacenter: string | undefined }
  | { kind: 'addr'; ip: string; datacenter: string | undefined }
  /** Under the domain but not a name Shoal serves: NXDOMAIN. */
  | { kind: 'unknown' }
  /** Not under the domain: REFUSED (Shoal does not recurse). */
  | { kind: 'outside' };

const TYPE_LABELS: ReadonlySet<string> = new Set(['service', 'connect', 'node', 'addr']);

/** Splits a name into lowercase labels, ignoring a trailing dot; '' and '.' are the root (no labels). */
export function labelsOf(name: string): string[] {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  return trimmed === '' ? [] : trimmed.toLowerCase().split('.');
}

/** Parses `qname` against `domain` (e.g. 'shoal' or 'mesh.example.com'). */
export function parseQueryName(qname: string, domain: string): DnsLookup {
  const labels = labelsOf(qname);
  const zone = labelsOf(domain);
  if (labels.length < zone.length || zone.some((z, i) => labels[labels.length - zone.length + i] !== z)) return { kind: 'outside' };
  const rest = labels.slice(0, labels.length - zone.length);
  if (rest.length === 0) return { kind: 'apex' };

  // The type label is last, or second to last when a datacenter follows it.
  let typeAt = rest.length - 1;
  let datacenter: string | undefined;
  if (!TYPE_LABELS.has(rest[typeAt]!)) {
    typeAt--;
    datacenter = rest[rest.length - 1];
  }
  const type = rest[typeAt];
  if (type === undefined || !TYPE_LABELS.has(type)) return { kind: 'unknown' };
  const head = rest.slice(0, typeAt);

  switch (type) {
    case 'node':
      return head.length === 1 ? { kind: 'node', node: head[0]!, datacenter } : { kind: 'unknown' };
    case 'addr': {
      const ip = head.length === 1 ? hexToIp(head[0]!) : undefined;
      return ip === undefined ? { kind: 'unknown' } : { kind: 'addr', ip, datacenter };
    }
    case 'connect':
      return head.length === 1 ? { kind: 'service', service: head[0]!, tag: undefined, datacenter, connect: true } : { kind: 'unknown' };
    default:
      return serviceLookup(head, datacenter);
  }
}

function serviceLookup(head: string[], datacenter: string | undefined): DnsLookup {
  if (head.length === 1) return { kind: 'service', service: head[0]!, tag: undefined, datacenter, connect: false };
  if (head.length !== 2) return { kind: 'unknown' };
  const [first, second] = head as [string, string];
  if (first.startsWith('_') && second.startsWith('_')) {
    // RFC 2782: _service._proto. Consul treats the protocol as a tag, except `tcp`, which is every instance.
    const tag = second.slice(1);
    if (first.length === 1 || tag === '') return { kind: 'unknown' };
    return { kind: 'service', service: first.slice(1), tag: tag === 'tcp' ? undefined : tag, datacenter, connect: false };
  }
  return { kind: 'service', service: second, tag: first, datacenter, connect: false };
}

/** `0a000001` is 10.0.0.1; 32 hex digits are an IPv6 address. Undefined for anything else. */
export function hexToIp(label: string): string | undefined {
  if (!/^[0-9a-f]+$/.test(label)) return undefined;
  if (label.length === 8) return [0, 2, 4, 6].map((i) => parseInt(label.slice(i, i + 2), 16)).join('.');
  if (label.length === 32) {
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(parseInt(label.slice(i, i + 4), 16).toString(16));
    return groups.join(':');
  }
  return undefined;
}

/** The `addr` label of an IP address (the inverse of hexToIp); undefined when `ip` is not one. */
export function ipToHex(ip: string, family: 4 | 6): string | undefined {
  if (family === 4) return ip.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('');
  const bytes = ipv6Bytes(ip);
  return bytes === undefined ? undefined : bytes.map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** The 16 bytes of an IPv6 address (with `::` expanded; an embedded IPv4 tail is accepted). */
function ipv6Bytes(ip: string): number[] | undefined {
  let text = ip;
  const tail: number[] = [];
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4 !== null) {
    tail.push(...v4.slice(1).map(Number));
    text = `${text.slice(0, v4.index)}0:0`;
  }
  const [left, right, extra] = text.split('::');
  if (extra !== undefined) return undefined;
  const l = left === '' || left === undefined ? [] : left.split(':');
  const r = right === undefined || right === '' ? [] : right.split(':');
  const fill = right === undefined ? 0 : 8 - l.length - r.length;
  const groups = [...l, ...Array<string>(Math.max(0, fill)).fill('0'), ...r];
  if (groups.length !== 8) return undefined;
  const bytes = groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}
