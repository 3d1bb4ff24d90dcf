/** One mutual-TLS handshake between a leaf (with a presented chain) and a verifier's trust anchors. */
import { connect, createServer } from 'node:tls';
import { createCsr, exportKeyPem, generateKeyPair, LeafSigner, type Identity } from '../../../ca/src';
import { systemClock } from '../../src/core/clock';

/** A leaf for `identity` signed by `intermediate`. */
export async function leafFrom(intermediate: { certPem: string; keyPem: string }, rootId: string, identity: Identity): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeyPair();
  const signer = new LeafSigner({ intermediate, chainPem: [intermediate.certPem], rootId, clock: systemClock });
  const res = await signer.sign(await createCsr({ identity, keys }), identity);
  return { certPem: res.certPem, keyPem: await exportKeyPem(keys.privateKey) };
}

/**
 * A server presenting `leaf` + `chain` and a client trusting `ca` (and presenting the same leaf, so
 * the server verifies it with `ca` too). Resolves 'ok' or the error code of whichever side failed.
 */
export function handshake(leaf: { certPem: string; keyPem: string }, chain: readonly string[], ca: readonly string[]): Promise<string> {
  const cert = [leaf.certPem, ...chain].join('');
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: string): void => {
      if (done) return;
      done = true;
      server.close();
      resolve(r);
    };
    const server = createServer({ cert, key: leaf.keyPem, ca: [...ca], requestCert: true, rejectUnauthorized: true }, (s) => {
      s.end('hi');
    });
    server.on('tlsClientError', (e) => finish(`server: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      const c = connect({ host: '127.0.0.1', port, cert, key: leaf.keyPem, ca: [...ca], checkServerIdentity: () => undefined });
      // Under TLS 1.3 a client whose certificate is refused still sees secureConnect; wait for data or an alert.
      c.on('data', () => { c.destroy(); finish('ok'); });
      c.on('error', (e) => finish(`client: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      c.on('close', () => finish('closed'));
    });
  });
}
