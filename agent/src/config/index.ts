/** Public surface of the agent configuration: load, types, errors. */
export {
  loadConfig,
  buildConfig,
  redactedConfig,
  isLoopback,
  isUnspecified,
  WAN_LABEL,
  type AgentConfig,
  type PortsConfig,
  type LogLevel,
  type GossipProfile,
  type LoadConfigOptions,
} from './agent-config';
export { CA_DEFAULTS, DEV_TRUST_DOMAIN, type CaConfig, type IntentionPolicy } from './ca-config';
export { ConfigError, ConfigErrorCode, formatProblem, type ConfigProblem } from './errors';
export { AGENT_FLAGS, flagsToDocument, type AgentFlag, type FlagValues } from './flags';
export { DURATION_EXPECTED, parseDurationMs, formatDurationMs } from './duration';
export { AGENT_SCHEMA, GOSSIP_KEYS, LOG_LEVELS, checkGossipKey, checkJoinAddress } from './schema';
export type { ConfigPath, ParsedDocument } from './sources';
