/**
 * Who may read leaf certificates: `GET /v1/agent/connect/ca/leaf/:service` returns the private key,
 * so it answers only callers on loopback (the proxy and tools on this machine) or callers that send
 * the agent's `acl_agent_token` as `X-Consul-Token` or `Authorization: Bearer` (Consul's headers).
 * The API already listens only on `client_addr`; this covers a `client_addr` that is not loopback.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError, HttpErrorCode } from './errors';
import type { ApiRequest } from './router';

/** True for 127.0.0.0/8, ::1 and IPv4-mapped 127.x addresses. */
export function isLoopback(addr: string | undefined): boolean {
  if (addr === undefined) return false;
  const v4 = addr.startsWith('::ffff:') ? addr.slice(7) : addr;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/** The token a request carries: `X-Consul-Token`, else `Authorization: Bearer <token>`. */
export function requestToken(req: Pick<ApiRequest, 'headers'>): string | undefined {
  const h = req.headers['x-consul-token'];
  const direct = Array.isArray(h) ? h[0] : h;
  if (direct !== undefined && direct !== '') return direct;
  const auth = req.headers['authorization'];
  const m = typeof auth === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(auth) : null;
  return m?.[1];
}

/** Throws 403 (SHOAL_ERR_HTTP_FORBIDDEN) unless the caller is on loopback or sends the agent token. */
export function assertLeafAccess(req: Pick<ApiRequest, 'headers' | 'remoteAddress'>, agentToken: string | undefined): void {
  if (isLoopback(req.remoteAddress)) return;
  const sent = requestToken(req);
  if (agentToken !== undefined && sent !== undefined && sameSecret(sent, agentToken)) return;
  const who = req.remoteAddress ?? 'an unknown address';
  const why = agentToken === undefined
    ? 'this agent has no acl_agent_token, so leaves are served to loopback callers only'
    : sent === undefined ? 'no token was sent (X-Consul-Token or Authorization: Bearer)' : 'the token sent is not the agent token';
  throw new HttpError(403, `leaf certificates carry private keys: refused to ${who}: ${why}`, HttpErrorCode.forbidden);
}

/**
 * Writes (every method but GET) from a caller that is not on loopback need the agent token, when the
 * agent has one: registering services, writing intentions and config entries, starting a root
 * rotation, joining and leaving. Without an `acl_agent_token` writes stay open, as in Consul without
 * ACLs (the agent warns at start when its API listens beyond loopback).
 */
export function assertWriteAccess(req: Pick<ApiRequest, 'headers' | 'remoteAddress' | 'method' | 'path'>, agentToken: string | undefined): void {
  if (agentToken === undefined || req.method === 'GET' || isLoopback(req.remoteAddress)) return;
  const sent = requestToken(req);
  if (sent !== undefined && sameSecret(sent, agentToken)) return;
  const who = req.remoteAddress ?? 'an unknown address';
  const why = sent === undefined ? 'no token was sent (X-Consul-Token or Authorization: Bearer)' : 'the token sent is not the agent token';
  throw new HttpError(403, `${req.method} ${req.path} changes this agent: refused to ${who}: ${why}`, HttpErrorCode.forbidden);
}

/** Constant-time comparison of two secrets of any length (compared as SHA-256 digests). */
function sameSecret(a: string, b: string): boolean {
  const da = createHash('sha256').update(a).digest();
  const db = createHash('sha256').update(b).digest();
  return timingSafeEqual(da, db);
}
