// The simulator's randomness. Every random choice in a run (latencies, faults, workload, node
// seeds) derives from one seed through this module, so a run is a function of (seed, options).
//
// Invariants:
//  RNG-1  Same seed => same sequence of draws, in any process (seedrandom's alea PRNG, which is
//         pure JS double arithmetic and so platform-independent).
//  RNG-2  fork(label) depends only on the parent's seed and the label, never on how many draws
//         the parent has made: adding a draw in one component cannot shift another's stream.
//
// Faults: none of its own; it is the source of everyone else's.

import seedrandom from 'seedrandom';

export interface SimRng {
  /** Uniform float in [0, 1). */
  float(): number;
  /** Uniform integer in [lo, hi], both ends inclusive. */
  int(lo: number, hi: number): number;
  /** True with probability p. p <= 0 and p >= 1 decide without drawing. */
  chance(p: number): boolean;
  /** A uniformly chosen element; throws on an empty array (our own bug). */
  pick<T>(xs: readonly T[]): T;
  /** An independent stream derived from this generator's seed and `label` (RNG-2). */
  fork(label: string): SimRng;
  /** The seed string this generator was made from (for reproduction messages). */
  readonly seed: string;
  /** A fresh unsigned 32-bit integer, e.g. to seed a node's core/rng. */
  u32(): number;
}

class AleaRng implements SimRng {
  readonly seed: string;
  private readonly next: () => number;

  constructor(seed: string) {
    this.seed = seed;
    this.next = seedrandom.alea(seed);
  }

  float(): number {
    return this.next();
  }

  int(lo: number, hi: number): number {
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new Error(`SimRng.int: non-finite range`);
    if (!(hi >= lo)) throw new Error(`SimRng.int: empty range [${lo}, ${hi}]`);
    return lo + Math.floor(this.next() * (Math.floor(hi) - Math.ceil(lo) + 1));
  }

  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.next() < p;
  }

  pick<T>(xs: readonly T[]): T {
    if (xs.length === 0) throw new Error('SimRng.pick: empty array');
    return xs[Math.floor(this.next() * xs.length)];
  }

  fork(label: string): SimRng {
    return new AleaRng(`${this.seed}/${label}`);
  }

  u32(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }
}

export const makeSimRng = (seed: number | string): SimRng => new AleaRng(String(seed));
