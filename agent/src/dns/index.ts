/** Public surface of the DNS interface: the server and its name grammar. */
export { DnsServer, type DnsServerOptions, type DnsStats } from './server';
export { answerQuestion, Rcode, type AnswerOptions, type DnsAnswer } from './answer';
export { parseQueryName, hexToIp, ipToHex, type DnsLookup } from './query-name';
