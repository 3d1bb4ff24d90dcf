/**
 * Joins a plain TCP socket (the application's side) to the encrypted side (a tunnel stream or a TLS
 * socket) in both directions, the way a TCP proxy must: `pipe` gives backpressure both ways; each
 * direction ends on its own (half-close: a FIN one way is passed on while the other way keeps
 * flowing); an error or reset on either side destroys the other; a connection with no bytes either
 * way for `idleMs` is closed. Resolves once both sides are closed, with the byte counts of the plain
 * socket (free: the kernel-facing socket counts them).
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** How a spliced connection ended. */
export interface SpliceResult {
  /** Bytes from the caller towards the destination, and back. */
  bytesUp: number;
  bytesDown: number;
  timedOut: boolean;
  /** The first error seen on either side, if any. */
  error: Error | undefined;
}

/**
 * `plainIsCaller`: the plain socket is the caller (outbound: the application that dialled the
 * upstream listener) rather than the destination (inbound: the local application).
 */
export function splice(plain: Socket, secure: Duplex, plainIsCaller: boolean, idleMs: number): Promise<SpliceResult> {
  return new Promise((resolve) => {
    let error: Error | undefined;
    let timedOut = false;
    let open = 2;
    const fail = (err: Error): void => {
      error ??= err;
      plain.destroy();
      secure.destroy();
    };
    const closed = (): void => {
      if (--open > 0) return;
      const read = plain.bytesRead;
      const written = plain.bytesWritten;
      resolve({ bytesUp: plainIsCaller ? read : written, bytesDown: plainIsCaller ? written : read, timedOut, error });
    };
    plain.on('error', fail);
    secure.on('error', fail);
    if (plain.destroyed || secure.destroyed) {
      // One side closed before the splice began (its 'close' may already have fired): end both now.
      plain.destroy();
      secure.destroy();
      resolve({ bytesUp: plainIsCaller ? plain.bytesRead : plain.bytesWritten, bytesDown: plainIsCaller ? plain.bytesWritten : plain.bytesRead, timedOut, error });
      return;
    }
    // A side that closed without finishing both directions was reset: take the other down too.
    // A graceful close needs nothing: both directions already ended through the pipes.
    const finished = (d: Duplex): boolean => d.readableEnded && d.writableFinished;
    plain.once('close', () => {
      if (!secure.destroyed && !finished(plain)) secure.destroy();
      closed();
    });
    secure.once('close', () => {
      if (!plain.destroyed && !finished(secure)) plain.destroy();
      closed();
    });
    if (idleMs > 0) {
      plain.setTimeout(idleMs, () => {
        timedOut = true;
        plain.destroy();
        secure.destroy();
      });
    }
    plain.pipe(secure);
    secure.pipe(plain);
    if (plain.isPaused()) plain.resume();
  });
}
