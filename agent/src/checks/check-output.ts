/**
 * Check output is bounded: Consul's default `output_max_size` is 4 KiB, and output travels in every
 * catalog snapshot this node gossips, so a chatty health endpoint must not inflate it.
 */

/** Most bytes of output kept per check (UTF-8). */
export const MAX_OUTPUT_BYTES = 4096;

/**
 * Collects at most `limit` bytes from a stream of chunks and drops the rest. It keeps counting
 * dropped bytes so the output can say it was cut.
 */
export class BoundedOutput {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  private dropped = 0;

  constructor(private readonly limit = MAX_OUTPUT_BYTES) {}

  /** True once the limit is reached: a reader may stop reading (HTTP) or keep draining (scripts). */
  get full(): boolean {
    return this.kept >= this.limit;
  }

  append(chunk: Buffer): void {
    const room = this.limit - this.kept;
    if (room <= 0) {
      this.dropped += chunk.length;
      return;
    }
    const part = chunk.length <= room ? chunk : chunk.subarray(0, room);
    this.chunks.push(part);
    this.kept += part.length;
    this.dropped += chunk.length - part.length;
  }

  /** The kept bytes as text; a multi-byte character cut at the limit is dropped, not mangled. */
  text(): string {
    return utf8Prefix(Buffer.concat(this.chunks, this.kept), this.limit);
  }

  /** True when bytes were dropped. */
  get truncated(): boolean {
    return this.dropped > 0;
  }
}

/** `text` cut to at most `limit` UTF-8 bytes, on a character boundary. */
export function truncateOutput(text: string, limit = MAX_OUTPUT_BYTES): string {
  if (text.length * 3 <= limit) return text; // fast path: cannot exceed even if all 3-byte chars
  const buf = Buffer.from(text, 'utf8');
  return buf.length <= limit ? text : utf8Prefix(buf, limit);
}

/** The longest prefix of `buf` within `limit` bytes that ends on a whole UTF-8 character. */
function utf8Prefix(buf: Buffer, limit: number): string {
  const end = Math.min(buf.length, limit);
  // Find where the last character starts (step back over continuation bytes 10xxxxxx) and drop it
  // when its lead byte announces more bytes than remain.
  let start = end - 1;
  while (start > 0 && end - start < 4 && (buf[start]! & 0xc0) === 0x80) start--;
  const lead = start >= 0 ? buf[start]! : 0;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return buf.subarray(0, start >= 0 && end - start < need ? start : end).toString('utf8');
}
