/** Public surface of the agent process. */
export { Agent, type AgentOptions, type AgentExit } from './agent';
export { AgentError, AgentErrorCode } from './errors';
export { createLogger, type LoggerOptions } from './logging';
export { chooseKeyring, readKeyringFile, KeyringStore, LAN_KEYRING_FILE, WAN_KEYRING_FILE, type KeyringFile, type KeyringChoice } from './keyring-store';
export { KEYRING_QUERY } from './keyring-cluster';
export { backoffDelayMs, RetryJoiner } from './retry-join';
export { agentTags, isServerTags, roleTag } from './tags';
export { VERSION, REVISION, BUILD } from './version';
