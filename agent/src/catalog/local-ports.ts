/**
 * Sidecar port assignment. A sidecar that names no port gets one from 21000-21255 (Consul's
 * `sidecar_min_port`..`sidecar_max_port`): the port it already had when that is still free, so an
 * unchanged service keeps its port across reloads and restarts, otherwise the lowest free one.
 */

/** An inclusive port range. */
export interface PortRange {
  min: number;
  max: number;
}

/** Consul's default sidecar range, also Shoal's inbound listener range. */
export const DEFAULT_SIDECAR_PORTS: Readonly<PortRange> = { min: 21000, max: 21255 };

/**
 * Ports for the sidecars in `wanted` (IDs, in definition order). `taken` holds ports used otherwise
 * (explicit sidecar ports, upstream listeners); `previous` the ports sidecars had. IDs that find no
 * free port are returned in `unassigned`.
 */
export function assignSidecarPorts(
  wanted: readonly string[],
  taken: Iterable<number>,
  previous: ReadonlyMap<string, number>,
  range: PortRange,
): { ports: Map<string, number>; unassigned: string[] } {
  const used = new Set(taken);
  const ports = new Map<string, number>();
  // Keepers first, so a newcomer never takes a port an existing sidecar holds.
  for (const id of wanted) {
    const prev = previous.get(id);
    if (prev !== undefined && prev >= range.min && prev <= range.max && !used.has(prev)) {
      ports.set(id, prev);
      used.add(prev);
    }
  }
  const unassigned: string[] = [];
  let next = range.min;
  for (const id of wanted) {
    if (ports.has(id)) continue;
    while (next <= range.max && used.has(next)) next++;
    if (next > range.max) {
      unassigned.push(id);
      continue;
    }
    ports.set(id, next);
    used.add(next);
  }
  return { ports, unassigned };
}
