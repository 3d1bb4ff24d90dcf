/** Public surface of the agent's metrics: the per-agent registry and the gossip binding. */
export { AgentMetrics, type AgentMetricsOptions, type HttpMetrics } from './registry';
export { GossipMetricFamilies, type PoolSource } from './gossip-metrics';
export { registerServiceMetrics, type ServiceLayerSources } from './service-metrics';
