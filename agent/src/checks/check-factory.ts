/** Builds the runner for a check definition: one place that knows every kind. */
import type { Clock } from '../core/clock';
import type { Random } from '../core/random';
import { AliasCheck, type AliasSource } from './check-alias';
import { probeGrpc } from './check-grpc';
import { probeHttp } from './check-http';
import { IntervalCheck } from './check-scheduler';
import { probeScript } from './check-script';
import { probeTcp } from './check-tcp';
import { TtlCheck } from './check-ttl';
import type { CheckDefinition, CheckRunner, Probe, ReportFn } from './types';

/** What runners need from their owner. */
export interface CheckDeps {
  clock: Clock;
  random: Random;
  /** This agent's node name (alias checks without `alias_node` look here). */
  nodeName: string;
  /** Where alias checks read health: the local registry for this node, the injected lookup for others. */
  aliasSource: AliasSource;
}

/** The runner for `def`; it reports through `report` once started. */
export function createCheckRunner(def: CheckDefinition, deps: CheckDeps, report: ReportFn): CheckRunner {
  const spec = def.spec;
  switch (spec.type) {
    case 'ttl':
      return new TtlCheck(spec.ttlMs, deps.clock, report);
    case 'alias':
      return new AliasCheck(def.id, spec, deps.nodeName, deps.aliasSource, report);
    case 'http':
      return interval((signal) => probeHttp(spec, signal));
    case 'tcp':
      return interval((signal) => probeTcp(spec, signal));
    case 'grpc':
      return interval((signal) => probeGrpc(spec, signal));
    case 'script':
      return interval((signal) => probeScript(spec, signal));
  }

  function interval(probe: Probe): CheckRunner {
    return new IntervalCheck(def, probe, deps, report);
  }
}
