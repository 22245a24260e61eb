// Named scenarios: a fixed fault script on top of the seeded workload (`npm run sim -- --scenario
// NAME`). Each is plain data interpreted by sim/run.ts, so a scenario replays exactly from its
// seed like any other run. `expect` states what the run must show besides "no violation".

import type { FaultFlag } from '../sim/faults.ts';

export type ScenarioAction =
  /** Cut the current leader off from every other node (both directions). With `clients:
   *  'majority'` the workload's leader-following clients are on the majority's side of the cut:
   *  they can no longer reach the old leader (a request in flight to it is lost, outcome unknown)
   *  and send to the other nodes only; clients bound to a node (`readers`) stay with their node.
   *  Without it every client still reaches every node. */
  | { readonly kind: 'isolate-leader'; readonly clients?: 'majority' }
  /** Heal every partition (client-side cuts included). */
  | { readonly kind: 'heal-network' }
  /** Crash every node at once (memory gone, unsynced writes lost or torn). */
  | { readonly kind: 'crash-all' }
  /** Crash every node at once at the first moment, within `withinMs`, when at least two have
   *  metadata-log writes not yet synced (appends in flight on a majority; at the end if never);
   *  restart them all `restartAfterMs` later. */
  | { readonly kind: 'crash-all-mid-append'; readonly withinMs: number; readonly restartAfterMs: number }
  /** Restart every crashed node. */
  | { readonly kind: 'restart-all' }
  /** Crash one follower, flip bits in its durable metadata log at rest, restart it. */
  | { readonly kind: 'corrupt-follower-disk' }
  /** Step one node's wall clock (ms, may be negative) and give it a drift (fraction, e.g. 0.05). */
  | { readonly kind: 'clock-step'; readonly node: 'leader' | 'follower'; readonly deltaMs: number; readonly drift: number };

export interface Scenario {
  readonly description: string;
  /** Random faults still drawn from the seed, on top of the script. */
  readonly faults: readonly Exclude<FaultFlag, 'swarm'>[];
  readonly durationMs: number;
  /** Extra read-only clients, one bound to each node (Jepsen-style): each sends only describes,
   *  always to its node. Default none. */
  readonly readers?: 'per-node';
  readonly script: readonly { readonly atMs: number; readonly action: ScenarioAction }[];
  readonly expect: {
    /** The run must elect a leader in a later epoch than the first one. */
    readonly newEpoch?: boolean;
    /** At least this many operations must complete ok. */
    readonly minOkOps?: number;
  };
}

export const scenarios: Record<string, Scenario> = {
  'leader-isolated': {
    description: 'The leader is cut off from both followers; the majority elects a new leader; the old one must step down and catch up after the heal.',
    faults: [],
    durationMs: 20_000,
    script: [
      { atMs: 4_000, action: { kind: 'isolate-leader' } },
      { atMs: 12_000, action: { kind: 'heal-network' } },
    ],
    expect: { newEpoch: true, minOkOps: 20 },
  },
  'stale-leader-read': {
    description:
      "The leader is cut off from both followers, with the leader-following clients on the majority's side and a read-only client bound to each node. Until its next quorum check the old leader still believes it leads, while the majority elects a new leader and commits writes; a read answered by the old leader in that window without a majority's confirmation is stale (RAFT-11, NODE-4).",
    faults: [],
    durationMs: 20_000,
    readers: 'per-node',
    script: [
      { atMs: 3_000, action: { kind: 'isolate-leader', clients: 'majority' } },
      { atMs: 6_000, action: { kind: 'heal-network' } },
      { atMs: 9_000, action: { kind: 'isolate-leader', clients: 'majority' } },
      { atMs: 12_000, action: { kind: 'heal-network' } },
      { atMs: 15_000, action: { kind: 'isolate-leader', clients: 'majority' } },
      { atMs: 18_000, action: { kind: 'heal-network' } },
    ],
    expect: { newEpoch: true, minOkOps: 20 },
  },
  'full-cluster-restart': {
    description: 'Every controller crashes at once, losing unsynced writes; all restart and recover from disk with every committed entry.',
    faults: [],
    durationMs: 20_000,
    script: [
      { atMs: 6_000, action: { kind: 'crash-all' } },
      { atMs: 7_500, action: { kind: 'restart-all' } },
      { atMs: 13_000, action: { kind: 'crash-all' } },
      { atMs: 13_100, action: { kind: 'restart-all' } },
    ],
    expect: { newEpoch: true, minOkOps: 20 },
  },
  'power-loss-mid-append': {
    description: 'Every controller loses power while a majority has metadata-log appends written but not synced (a later frame may survive an earlier one); all recover with every committed entry and elect a leader.',
    faults: [],
    durationMs: 20_000,
    script: [
      { atMs: 5_000, action: { kind: 'crash-all-mid-append', withinMs: 3_000, restartAfterMs: 500 } },
      { atMs: 12_000, action: { kind: 'crash-all-mid-append', withinMs: 3_000, restartAfterMs: 100 } },
    ],
    expect: { newEpoch: true, minOkOps: 20 },
  },
  'disk-corruption-one-voter': {
    description: "One follower's metadata log rots at rest while it is down; it must detect the corruption by checksum and repair from the leader.",
    faults: [],
    durationMs: 20_000,
    script: [
      { atMs: 8_000, action: { kind: 'corrupt-follower-disk' } },
    ],
    expect: { minOkOps: 20 },
  },
  'clock-steps': {
    description: "Wall clocks jump backwards and forwards and drift; monotonic time keeps the quorum correct.",
    faults: ['clock'],
    durationMs: 20_000,
    script: [
      { atMs: 3_000, action: { kind: 'clock-step', node: 'leader', deltaMs: -60_000, drift: 0.05 } },
      { atMs: 7_000, action: { kind: 'clock-step', node: 'follower', deltaMs: 3_600_000, drift: -0.05 } },
    ],
    expect: { minOkOps: 20 },
  },
};
