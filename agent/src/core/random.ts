/**
 * Randomness, injected. Protocol code takes a `Random` so simulations are reproducible from a seed.
 * This module and `clock.ts` are the only ones the lint rules allow to touch `Math.random`.
 */

/** A source of uniform random numbers. */
export interface Random {
  /** A float in [0, 1). */
  float(): number;
  /** An integer in [0, n). */
  int(n: number): number;
}

/** Real randomness for production; protocol choices (probe order, gossip targets) need no CSPRNG. */
export const systemRandom: Random = {
  float: () => Math.random(),
  int: (n: number) => Math.floor(Math.random() * n),
};

/**
 * A seeded generator (sfc32, 128-bit state): fast, good statistical quality, and reproducible, so a
 * simulation with the same seed replays the same run.
 */
export class SeededRandom implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }

  float(): number {
    return this.next() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** A child generator with an independent stream, for giving each simulated node its own. */
  fork(): SeededRandom {
    return new SeededRandom(this.next());
  }

  private next(): number {
    this.a >>>= 0; this.b >>>= 0; this.c >>>= 0; this.d >>>= 0;
    const t = (this.a + this.b) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.d = (this.d + 1) | 0;
    const r = (t + this.d) | 0;
    this.c = (this.c + r) | 0;
    return r >>> 0;
  }
}

/** Fisher-Yates shuffle in place using `random`. */
export function shuffle<T>(items: T[], random: Random): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = random.int(i + 1);
    const tmp = items[i]!;
    items[i] = items[j]!;
    items[j] = tmp;
  }
  return items;
}
