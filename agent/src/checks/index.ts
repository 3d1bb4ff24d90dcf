/** Public surface of health checks: definitions, runners for every kind, and their building blocks. */
export type {
  CheckDefinition,
  CheckSpec,
  HttpCheckSpec,
  TcpCheckSpec,
  GrpcCheckSpec,
  ScriptCheckSpec,
  TtlCheckSpec,
  AliasCheckSpec,
  CheckResult,
  CheckRunner,
  Probe,
  ReportFn,
} from './types';
export { createCheckRunner, type CheckDeps } from './check-factory';
export { AliasCheck, aliasResult, aliasSourceFromCatalog, type AliasSource } from './check-alias';
export { TtlCheck } from './check-ttl';
export { IntervalCheck, CheckTimeoutError, MIN_INTERVAL_MS } from './check-scheduler';
export { StatusThresholds } from './check-thresholds';
export { MAX_OUTPUT_BYTES, BoundedOutput, truncateOutput } from './check-output';
export { probeHttp, httpStatus } from './check-http';
export { probeTcp } from './check-tcp';
export { probeGrpc, HEALTH_CHECK_PATH, SERVING_STATUS, encodeHealthRequest, decodeHealthRequest, encodeHealthResponse, decodeHealthResponse } from './check-grpc';
export { probeScript, exitStatus } from './check-script';
