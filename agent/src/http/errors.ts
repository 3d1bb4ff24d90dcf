/**
 * HTTP API errors. A handler throws `HttpError` (or any error carrying a numeric `status` and a
 * `code`); the server turns it into a JSON reply `{ "error": message, "code": code }`.
 */

/** Stable codes of errors the HTTP layer itself produces. */
export const HttpErrorCode = {
  notFound: 'SHOAL_ERR_HTTP_NOT_FOUND',
  methodNotAllowed: 'SHOAL_ERR_HTTP_METHOD_NOT_ALLOWED',
  bodyTooLarge: 'SHOAL_ERR_HTTP_BODY_TOO_LARGE',
  badJson: 'SHOAL_ERR_HTTP_BAD_JSON',
  badRequest: 'SHOAL_ERR_HTTP_BAD_REQUEST',
  forbidden: 'SHOAL_ERR_HTTP_FORBIDDEN',
  internal: 'SHOAL_ERR_HTTP_INTERNAL',
} as const;

/** A failed request with the status and code to send. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string = status >= 500 ? HttpErrorCode.internal : HttpErrorCode.badRequest,
    /** Extra headers for the reply (`Allow` on 405). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Shorthand for a 400 with a message saying what is wrong with the request. */
export function badRequest(message: string): HttpError {
  return new HttpError(400, message, HttpErrorCode.badRequest);
}

/** One refused field, as a reply's `problems` lists it (a `ValidationError`'s problems). */
export interface ProblemJson {
  source: string;
  field: string;
  message: string;
}

/** Status, code, message and extra headers of any thrown value; unknown errors are 500s. */
export function describeError(err: unknown): {
  status: number; code: string; message: string; headers: Record<string, string>; problems?: ProblemJson[];
} {
  const e = err as { status?: unknown; code?: unknown; message?: unknown; headers?: unknown; problems?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const code = typeof e?.code === 'string' && e.code.startsWith('SHOAL_ERR_') ? e.code : HttpErrorCode.internal;
  let status = typeof e?.status === 'number' && e.status >= 400 && e.status < 600 ? e.status : 500;
  // Refused operator input (agent config, a service definition, a config entry) is the caller's fault.
  if (status === 500 && (code === 'SHOAL_ERR_CONFIG_INVALID' || code === 'SHOAL_ERR_VALIDATION')) status = 400;
  const headers = typeof e?.headers === 'object' && e.headers !== null ? (e.headers as Record<string, string>) : {};
  const problems = Array.isArray(e?.problems) ? (e.problems as ProblemJson[]).map((p) => ({ source: String(p.source), field: String(p.field), message: String(p.message) })) : undefined;
  return problems === undefined ? { status, code, message, headers } : { status, code, message, headers, problems };
}
