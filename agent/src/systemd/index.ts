/** Public surface of the systemd integration: sd_notify readiness, status, watchdog, reload, stop. */
export type { AgentLifecycle, AgentStatusSource, PoolName } from './lifecycle';
export {
  monotonicUsec, retryJoinPools, statusText, systemdNotifierFromEnv, takeNotifyEnv, SystemdNotifier,
  type JoinProgress, type NotifierFromEnvOptions, type NotifyEnv, type ReadinessConfig, type SystemdNotifierOptions,
} from './notify';
export { SystemdNotifySender, type NotifySender, type SystemdNotifySenderOptions } from './notify-sender';
