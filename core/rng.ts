// A tiny deterministic PRNG whose whole state is one 32-bit integer, so it can live inside a
// node's plain, serializable state (election jitter and the like). The driver seeds it through
// the Start input. (The simulator's own randomness uses seedrandom; core cannot, because a
// seedrandom generator is a closure, not data, and its auto-seeding reaches for node:crypto.)
//
// Algorithm: mulberry32. Not for cryptography.

export interface Rng {
  state: number;
}

export const makeRng = (seed: number): Rng => ({ state: seed >>> 0 });

/** Next float in [0, 1). Mutates the generator's state. */
export const nextFloat = (rng: Rng): number => {
  rng.state = (rng.state + 0x6d2b79f5) >>> 0;
  let t = rng.state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

/** Next integer in [lo, hi] (inclusive). */
export const nextInt = (rng: Rng, lo: number, hi: number): number => {
  if (!(hi >= lo)) throw new Error(`nextInt: empty range [${lo}, ${hi}]`);
  return lo + Math.floor(nextFloat(rng) * (hi - lo + 1));
};
