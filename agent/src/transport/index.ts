/** The gossip transport: the interface, the UDP+TCP implementation and the in-memory network. */
export * from './transport';
export * from './udp-tcp';
export * from './memory';
