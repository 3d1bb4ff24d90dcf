/**
 * HTTP checks, as Consul runs them: one request (GET unless `method`), `header` and `body` as
 * given, a fresh connection each time (no keep-alive pool to leak), redirects followed up to 10 hops
 * unless `disable_redirects`. 2xx is passing, 429 (Too Many Requests) warning, anything else or any
 * error critical. Output is the status line and the first bytes of the body, at most 4 KiB; the rest
 * of the body is never read.
 */
import http from 'node:http';
import https from 'node:https';
import type { HealthStatus } from '../catalog/types';
import { BoundedOutput, MAX_OUTPUT_BYTES, truncateOutput } from './check-output';
import { abortMessage } from './check-scheduler';
import type { CheckResult, HttpCheckSpec } from './types';

/** Go's http.Client stops after 10 redirects; so do we. */
const MAX_REDIRECTS = 10;

/** Consul's defaults; an operator's `header` replaces them. */
const DEFAULT_HEADERS: Readonly<Record<string, string>> = {
  'user-agent': 'Shoal Health Check',
  accept: 'text/plain, text/*, */*',
};

interface HttpAnswer {
  statusCode: number;
  statusMessage: string;
  location: string | undefined;
  body: string;
}

/** Runs one HTTP check. */
export async function probeHttp(spec: HttpCheckSpec, signal: AbortSignal): Promise<CheckResult> {
  let url = new URL(spec.url);
  for (let hop = 0; ; hop++) {
    let answer: HttpAnswer;
    try {
      answer = await request(url, spec, signal);
    } catch (err) {
      const why = signal.aborted ? abortMessage(signal) : (err as Error).message;
      return { status: 'critical', output: truncateOutput(`HTTP ${spec.method} ${url.href}: ${why}`) };
    }
    const redirect = answer.statusCode >= 300 && answer.statusCode < 400 && answer.location !== undefined;
    if (redirect && !spec.disableRedirects && hop < MAX_REDIRECTS) {
      url = new URL(answer.location!, url);
      continue;
    }
    const line = `HTTP ${spec.method} ${url.href}: ${answer.statusCode} ${answer.statusMessage} Output: `;
    return { status: httpStatus(answer.statusCode), output: truncateOutput(line + answer.body) };
  }
}

/** 2xx passing, 429 warning, everything else critical. */
export function httpStatus(code: number): HealthStatus {
  if (code >= 200 && code < 300) return 'passing';
  return code === 429 ? 'warning' : 'critical';
}

function request(url: URL, spec: HttpCheckSpec, signal: AbortSignal): Promise<HttpAnswer> {
  const headers: Record<string, string | string[]> = { ...DEFAULT_HEADERS };
  for (const [name, values] of Object.entries(spec.header)) {
    // Node takes a list for repeated headers, but Host only as one string (it is never repeated).
    const key = name.toLowerCase();
    if (values.length > 0) headers[key] = key === 'host' || values.length === 1 ? values[0]! : [...values];
  }
  if (spec.body !== '' && headers['content-length'] === undefined) headers['content-length'] = String(Buffer.byteLength(spec.body));
  const options: https.RequestOptions = { method: spec.method, headers, agent: false, signal };
  if (url.protocol === 'https:') {
    options.rejectUnauthorized = !spec.tlsSkipVerify;
    if (spec.tlsServerName !== '') options.servername = spec.tlsServerName;
  }
  return new Promise((resolve, reject) => {
    const req = (url.protocol === 'https:' ? https : http).request(url, options, (res) => {
      const body = new BoundedOutput(MAX_OUTPUT_BYTES);
      const finish = (): void => {
        res.destroy();
        const location = res.headers.location;
        resolve({ statusCode: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', location, body: body.text() });
      };
      res.on('data', (chunk: Buffer) => {
        body.append(chunk);
        if (body.full) finish(); // enough for the output: stop reading, close the connection
      });
      res.on('end', finish);
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(spec.body === '' ? undefined : spec.body);
  });
}
