/**
 * The test's eyes inside the test network: a long-lived helper that the netns harness starts in the
 * switch namespace (which owns an address on the bridge), so the test process, which stays in the
 * root namespace and cannot reach 10.231.0.0/24, can still query every agent's HTTP API.
 *
 * Protocol, one JSON object per line: stdin `{"id":1,"url":"http://10.231.0.10:7500/metrics","timeoutMs":2000}`,
 * stdout `{"id":1,"status":200,"body":"..."}` or `{"id":1,"error":"..."}`. Requests run concurrently;
 * answers may come back out of order. The helper exits when stdin closes, so it never outlives the
 * test that started it.
 *
 * One process for the whole suite instead of one `ip netns exec ... node` per query: the loss
 * scenario makes five queries a second for two minutes, and a node start costs tens of milliseconds
 * of CPU on a 2-core machine that runs other tests at the same time.
 */
import { createInterface } from 'node:readline';

/** A request read from stdin. */
interface Request {
  id: number;
  url: string;
  timeoutMs: number;
}

/** Refuses URLs outside the test subnet, so a mistake in a test can never send traffic elsewhere. */
const ALLOWED_HOST = /^10\.231\.\d{1,3}\.\d{1,3}$/;

/** Largest body relayed, in bytes: /metrics of one agent is a few tens of kB. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

function reply(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

async function handle(line: string): Promise<void> {
  let req: Request;
  try {
    req = JSON.parse(line) as Request;
  } catch {
    return;
  }
  try {
    const url = new URL(req.url);
    if (!ALLOWED_HOST.test(url.hostname)) throw new Error(`refusing ${url.hostname}: only 10.231.0.0/16 test addresses`);
    const res = await fetch(url, { signal: AbortSignal.timeout(req.timeoutMs) });
    const body = await res.text();
    if (body.length > MAX_BODY_BYTES) throw new Error(`body of ${body.length} bytes exceeds ${MAX_BODY_BYTES}`);
    reply({ id: req.id, status: res.status, body });
  } catch (err) {
    reply({ id: req.id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => void handle(line));
rl.on('close', () => process.exit(0));
// The harness waits for this line before sending requests.
reply({ id: 0, ready: true });
