/**
 * Binding a TCP server: resolves with the bound port (the real one when asked for 0), rejects with
 * the listen error (EADDRINUSE, EADDRNOTAVAIL, ...) and leaves no error listener behind.
 */
import type { AddressInfo, Server } from 'node:net';

export function listenTcp(server: Server, host: string, port: number, backlog?: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog }, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
