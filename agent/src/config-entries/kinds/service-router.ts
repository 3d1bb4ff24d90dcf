/**
 * `service-router`: L7 routes for a service: the first route whose HTTP match (one path matcher,
 * headers, query parameters, methods) fits a request sends it to its destination (another service
 * or subset, with prefix rewrite, timeouts and retries). Checks follow Consul's
 * ServiceRouterConfigEntry.Validate.
 */
import {
  atMostOne, exactlyOne, headerMatches, headerModifiers, methods, name, namespace, partition, PATH_FIELDS, present, regex, subsetName,
} from './common';
import { type KindSpec } from './kind';
import { bool, type Ctx, duration, int, list, obj, str } from './schema';

/** Retry conditions Consul accepts in `RetryOn`. */
export const RETRY_CONDITIONS = [
  '5xx', 'gateway-error', 'reset', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx', 'refused-stream', 'cancelled',
  'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
] as const;

const httpMatch = obj({
  ...PATH_FIELDS,
  Header: headerMatches(),
  QueryParam: list(obj({
    Name: str({ min: 1, max: 256 }),
    Present: bool(),
    Exact: str({ max: 8192 }),
    Regex: regex(),
  }, { required: ['Name'], check: (q, p, ctx) => exactlyOne(q, ['Present', 'Exact', 'Regex'], p, ctx) }), { max: 64 }),
  Methods: methods(),
}, { check: (m, p, ctx) => atMostOne(m, ['PathExact', 'PathPrefix', 'PathRegex'], p, ctx) });

const destination = obj({
  Service: name(),
  ServiceSubset: subsetName(),
  Namespace: namespace(),
  Partition: partition(),
  PrefixRewrite: str({ max: 4096 }),
  RequestTimeout: duration(),
  IdleTimeout: duration(),
  NumRetries: int({ max: 100 }),
  RetryOnConnectFailure: bool(),
  RetryOn: list(str({ enum: RETRY_CONDITIONS }), { max: RETRY_CONDITIONS.length }),
  RetryOnStatusCodes: list(int({ min: 100, max: 599 }), { max: 64 }),
  RequestHeaders: headerModifiers(),
  ResponseHeaders: headerModifiers(),
});

/** PrefixRewrite replaces the matched path prefix, so the route must match on PathExact or PathPrefix. */
function checkRoute(r: Record<string, unknown>, path: string, ctx: Ctx, failed: ReadonlySet<string>): void {
  if (failed.has('Match')) return;
  const http = (r['Match'] as { HTTP?: Record<string, unknown> } | undefined)?.HTTP;
  const dest = r['Destination'] as Record<string, unknown> | undefined;
  if (present(dest?.['PrefixRewrite']) && !present(http?.['PathExact']) && !present(http?.['PathPrefix'])) {
    ctx.problem(`${path}.Destination.PrefixRewrite`, 'needs Match.HTTP.PathExact or Match.HTTP.PathPrefix');
  }
}

export const serviceRouter: KindSpec = {
  kind: 'service-router',
  name: name(),
  fields: {
    Routes: list(obj({ Match: obj({ HTTP: httpMatch }), Destination: destination }, { check: checkRoute }), { max: 256 }),
  },
};
