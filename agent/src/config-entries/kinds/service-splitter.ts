/**
 * `service-splitter`: splits a service's HTTP traffic by weight between subsets or other services
 * (canaries, migrations). Weights are percentages with 0.01 % resolution and must sum to 100
 * (within 0.01, the remainder going to the first split, as Consul does).
 */
import { headerModifiers, name, namespace, partition, subsetName } from './common';
import { type KindSpec } from './kind';
import { type Ctx, list, num, obj } from './schema';

/** A weight in units of 0.01 % (Consul's scaleWeight). */
export function scaleWeight(w: number): number {
  return Math.round(w * 100);
}

type Split = Record<string, unknown> & { Weight?: number };

function check(e: Record<string, unknown>, ctx: Ctx): void {
  const splits = (e['Splits'] as Split[] | undefined) ?? [];
  const seen = new Set<string>();
  splits.forEach((s, i) => {
    const key = JSON.stringify([s['Service'] ?? e['Name'], s['ServiceSubset'] ?? '', s['Namespace'] ?? '', s['Partition'] ?? '']);
    if (seen.has(key)) {
      ctx.problem(`Splits[${i}]`, `sends to service ${JSON.stringify(s['Service'] ?? e['Name'])} subset ${JSON.stringify(s['ServiceSubset'] ?? '')} more than once`);
    }
    seen.add(key);
  });
  if (splits.length === 0 || splits.some((s) => typeof s.Weight !== 'number')) return;
  const sum = splits.reduce((n, s) => n + scaleWeight(s.Weight!), 0);
  if (Math.abs(sum - 10_000) > 1) ctx.problem('Splits', `weights must sum to 100, got ${sum / 100}`);
}

/** Rounds weights to 0.01 % and gives the rounding remainder to the first split. */
function normalize(e: Record<string, unknown>): void {
  const splits = e['Splits'] as Split[];
  for (const s of splits) s.Weight = scaleWeight(s.Weight ?? 0) / 100;
  const rest = 10_000 - splits.reduce((n, s) => n + scaleWeight(s.Weight!), 0);
  if (rest !== 0) splits[0]!.Weight = (scaleWeight(splits[0]!.Weight!) + rest) / 100;
}

export const serviceSplitter: KindSpec = {
  kind: 'service-splitter',
  name: name(),
  fields: {
    Splits: list(obj({
      Weight: num({ min: 0, max: 100 }),
      Service: name(),
      ServiceSubset: subsetName(),
      Namespace: namespace(),
      Partition: partition(),
      RequestHeaders: headerModifiers(),
      ResponseHeaders: headerModifiers(),
    }, { required: ['Weight'] }), { min: 1, max: 256 }),
  },
  check,
  normalize,
};
