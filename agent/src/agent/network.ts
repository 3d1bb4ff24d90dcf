/**
 * Addresses the agent derives at start: the address to advertise when bound to every interface,
 * and seed addresses resolved to `ip:port`.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';
import { isUnspecified } from '../config';
import { joinHostPort } from '../transport/transport';

/** RFC 1918 and RFC 6598 (carrier-grade NAT) ranges: where cluster-internal addresses live. */
function isPrivateV4(a: string): boolean {
  const [x, y] = a.split('.').map(Number) as [number, number];
  return x === 10 || (x === 172 && y >= 16 && y <= 31) || (x === 192 && y === 168) || (x === 100 && y >= 64 && y <= 127);
}

/**
 * The address peers should use. A specific bind address is announced as is. When bound to every
 * interface (0.0.0.0 or ::), Consul's rule: the first private IPv4 address (or global IPv6 for ::);
 * with several candidates the first is used and `ambiguous` lists them so the agent can warn.
 */
export function pickAdvertiseAddr(
  bindAddr: string,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>,
): { addr: string; ambiguous: string[] } {
  if (!isUnspecified(bindAddr)) return { addr: bindAddr, ambiguous: [] };
  const all = Object.values(interfaces).flatMap((list) => list ?? []).filter((i) => !i.internal);
  const v6 = isIP(bindAddr) === 6;
  const candidates = v6
    ? all.filter((i) => i.family === 'IPv6' && !i.address.toLowerCase().startsWith('fe80')).map((i) => i.address)
    : all.filter((i) => i.family === 'IPv4' && isPrivateV4(i.address)).map((i) => i.address);
  const fallback = v6 ? [] : all.filter((i) => i.family === 'IPv4').map((i) => i.address);
  const pick = candidates[0] ?? fallback[0] ?? (v6 ? '::1' : '127.0.0.1');
  return { addr: pick, ambiguous: candidates.length > 1 ? candidates : [] };
}

/** Splits a seed `host`, `host:port`, `[v6]:port` or bare IPv6; the port defaults to `defaultPort`. */
export function parseSeed(seed: string, defaultPort: number): { host: string; port: number } {
  const s = seed.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] === undefined ? defaultPort : Number(bracketed[2]) };
  if (isIP(s) === 6) return { host: s, port: defaultPort };
  const i = s.lastIndexOf(':');
  if (i > 0 && /^\d+$/.test(s.slice(i + 1))) return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
  return { host: s, port: defaultPort };
}

/**
 * Resolves seeds to `ip:port` (every address a name resolves to). Names that do not resolve are
 * reported as errors in the join result's shape rather than thrown.
 */
export async function resolveSeeds(
  seeds: readonly string[],
  defaultPort: number,
): Promise<{ addrs: string[]; errors: { addr: string; error: string }[] }> {
  const addrs: string[] = [];
  const errors: { addr: string; error: string }[] = [];
  await Promise.all(seeds.map(async (seed) => {
    const { host, port } = parseSeed(seed, defaultPort);
    if (isIP(host) !== 0) {
      addrs.push(joinHostPort(host, port));
      return;
    }
    try {
      for (const r of await lookup(host, { all: true })) addrs.push(joinHostPort(r.address, port));
    } catch (err) {
      errors.push({ addr: seed, error: `cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` });
    }
  }));
  return { addrs: [...new Set(addrs)], errors };
}
