// One node's clocks, as functions of the simulator's global virtual time.
//
// Monotonic: mono(g) is piecewise linear in global time g with rate (1 + drift) > 0, anchored
// where the drift last changed, so it never goes backwards. Wall: wall(g) = mono(g) + offset,
// where the offset is set per node and changed by steps (NTP slews and steps; a step may be
// backwards). Stamps handed to nodes are whole milliseconds (floor), which keeps both properties.
//
// Invariants:
//  CLOCK-1  stamp(g).now is nondecreasing in g, across drift changes and wall steps.
//  CLOCK-2  |drift| <= MAX_DRIFT, so the rate 1 + drift stays within [0.5, 1.5].
//  CLOCK-3  globalAt(target) returns the earliest representable g with mono(g) >= target, so a
//           timer armed for afterMs of this node's monotonic time never fires early.
//
// Faults it models: per-node offset and drift; forward and backward wall-clock steps.

import type { Stamp } from '../core/io.ts';

const MAX_DRIFT = 0.5;
/** A plausible wall-clock epoch (2023-11-14) so wall stamps look like Kafka timestamps. */
export const DEFAULT_EPOCH_MS = 1_700_000_000_000;

export interface ClockInit {
  /** Rate error: 1e-4 means 100 ppm fast. Default 0. */
  drift?: number;
  /** Wall clock = epochMs + wallOffsetMs + monotonic time. Default 0. */
  wallOffsetMs?: number;
  epochMs?: number;
  /** Monotonic reading at global time startGlobalMs. Default 0. */
  startMonoMs?: number;
  startGlobalMs?: number;
}

export class NodeClock {
  private anchorGlobalMs: number;
  private anchorMonoMs: number;
  private rate: number;
  private wallBaseMs: number;

  constructor(init: ClockInit = {}) {
    this.anchorGlobalMs = init.startGlobalMs ?? 0;
    this.anchorMonoMs = init.startMonoMs ?? 0;
    this.rate = 1;
    this.setRate(init.drift ?? 0);
    this.wallBaseMs = (init.epochMs ?? DEFAULT_EPOCH_MS) + (init.wallOffsetMs ?? 0);
  }

  private setRate(drift: number): void {
    if (!(Math.abs(drift) <= MAX_DRIFT)) throw new Error(`NodeClock: drift ${drift} out of range (CLOCK-2)`);
    this.rate = 1 + drift;
  }

  drift(): number {
    return this.rate - 1;
  }

  /** Monotonic ms at global time g (fractional). */
  mono(globalMs: number): number {
    if (globalMs < this.anchorGlobalMs) throw new Error('NodeClock.mono: global time before anchor');
    return this.anchorMonoMs + (globalMs - this.anchorGlobalMs) * this.rate;
  }

  /** Wall-clock ms at global time g (fractional). */
  wall(globalMs: number): number {
    return this.wallBaseMs + this.mono(globalMs);
  }

  /** The stamp every input carries: whole ms. */
  stamp(globalMs: number): Stamp {
    return { now: Math.floor(this.mono(globalMs)), wall: Math.floor(this.wall(globalMs)) };
  }

  /** Changes the drift from global time g on; mono stays continuous (CLOCK-1). */
  setDrift(globalMs: number, drift: number): void {
    this.anchorMonoMs = this.mono(globalMs);
    this.anchorGlobalMs = globalMs;
    this.setRate(drift);
  }

  /** Steps the wall clock by deltaMs (negative = backwards). Monotonic time is untouched. */
  stepWall(deltaMs: number): void {
    if (!Number.isFinite(deltaMs)) throw new Error('NodeClock.stepWall: non-finite step');
    this.wallBaseMs += deltaMs;
  }

  /** Wall offset relative to the default epoch (for reports and tests). */
  wallOffsetMs(): number {
    return this.wallBaseMs - DEFAULT_EPOCH_MS;
  }

  /** Earliest global time >= nowGlobalMs at which mono reaches targetMonoMs (CLOCK-3). */
  globalAt(targetMonoMs: number, nowGlobalMs: number): number {
    if (this.mono(nowGlobalMs) >= targetMonoMs) return nowGlobalMs;
    let g = this.anchorGlobalMs + (targetMonoMs - this.anchorMonoMs) / this.rate;
    if (g < nowGlobalMs) g = nowGlobalMs;
    for (let i = 0; i < 8 && this.mono(g) < targetMonoMs; i++) g += Math.max(1e-9, Math.abs(g) * 1e-15) * 2 ** (i * 4);
    if (this.mono(g) < targetMonoMs) throw new Error('NodeClock.globalAt: could not reach target (CLOCK-3)');
    return g;
  }
}
