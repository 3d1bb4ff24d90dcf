/**
 * Lifeguard local health awareness (Dadgar et al., "Lifeguard: Local Health Awareness for More
 * Accurate Failure Detection", 2018; memberlist's awareness.go). A node that misses acks, gets nacks
 * back short, or has to refute suspicions about itself is probably the slow one; it raises its score
 * and stretches its own probe interval and timeouts by (score + 1), so it stops accusing healthy
 * members while it is overloaded.
 */
export class Awareness {
  private score = 0;

  /** @param max the exclusive upper bound of the score (awarenessMaxMultiplier, 8 by default). */
  constructor(private readonly max: number) {}

  /** Adds `delta` (positive = less healthy), clamped to [0, max - 1]. Returns the new score. */
  applyDelta(delta: number): number {
    this.score = Math.min(this.max - 1, Math.max(0, this.score + delta));
    return this.score;
  }

  /** Current score: 0 is healthy. */
  getScore(): number {
    return this.score;
  }

  /** Scales a duration by (score + 1). */
  scaleTimeout(ms: number): number {
    return ms * (this.score + 1);
  }
}
