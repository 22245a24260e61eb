// The nemesis: plans a timed list of faults from a seed and carries them out on a World.
//
// A plan is data (FaultEvent[] sorted by time), drawn once from the rng, so it can be printed,
// replayed and shrunk. Each flag has its own timeline drawn from its own forked stream, so adding
// one flag does not reshuffle the others' timings.
//
// Invariants (what a 3-node quorum must survive, and no more):
//  FAULT-1  Silent disk corruption (bit-rot, lost and misdirected writes, corrupt at rest) only
//           ever hits one node per run (plan.corruptNode): a good copy always exists elsewhere.
//           Loud disk faults (EIO, fsync failure, ENOSPC, slowness) may hit any node.
//  FAULT-2  Every crash in a plan is followed by a restart of that node; every partition, disk,
//           net and pause fault by its end. Fault windows of one kind do not overlap.
//  FAULT-3  healAll() ends everything at once: cancels the rest of the plan, heals partitions
//           and slow links, restores the base network config, resumes paused nodes, restarts
//           crashed ones and zeroes disk fault rates (keeping base latency); clocks stop
//           stepping (their current drift and offset stay).
//  FAULT-4  planFaults is a pure function of (seed or rng state, flags, nodeIds, durationMs).
//  FAULT-5  'reads' (asked, or drawn by swarm from a fork of its own, so no other draw moves) adds
//           no fault: the run binds a read-only client to each node and, after each partition,
//           keeps the leader-following clients on the majority's side (sim/run.ts, CLIENT-1), so
//           a deposed leader's stale reads meet a history the majority wrote meanwhile.
//
// Faults: see architecture.md's `--faults` table.

import type { NodeId } from '../core/io.ts';
import type { DiskFaultConfig } from './disk.ts';
import type { NetworkConfig } from './network.ts';
import { makeSimRng, type SimRng } from './rng.ts';
import type { ScheduledEvent } from './scheduler.ts';
import type { World } from './world.ts';

export type FaultFlag = 'partition' | 'crash' | 'pause' | 'disk' | 'clock' | 'net' | 'reads' | 'swarm';
export const FAULT_FLAGS: readonly FaultFlag[] = ['partition', 'crash', 'pause', 'disk', 'clock', 'net', 'reads', 'swarm'];
/** Flags with a fault timeline ('reads' shapes the workload instead: FAULT-5). */
type BaseFlag = Exclude<FaultFlag, 'swarm' | 'reads'>;
const BASE_FLAGS: readonly BaseFlag[] = ['partition', 'crash', 'pause', 'disk', 'clock', 'net'];

export type PartitionMode = 'symmetric' | 'oneWay' | 'majority' | 'isolate' | 'isolateLeader' | 'bridge';

export type FaultEvent = { readonly atMs: number } & (
  | { readonly kind: 'partition'; readonly mode: PartitionMode; readonly groups: readonly (readonly NodeId[])[] }
  | { readonly kind: 'healPartition' }
  | { readonly kind: 'crash'; readonly node: NodeId }
  | { readonly kind: 'restart'; readonly node: NodeId }
  | { readonly kind: 'pause'; readonly node: NodeId; readonly ms: number }
  | { readonly kind: 'diskFaults'; readonly node: NodeId; readonly config: DiskFaultConfig }
  | { readonly kind: 'diskHeal'; readonly node: NodeId }
  | { readonly kind: 'corrupt'; readonly node: NodeId }
  | { readonly kind: 'clockDrift'; readonly node: NodeId; readonly drift: number }
  | { readonly kind: 'clockStep'; readonly node: NodeId; readonly deltaMs: number }
  | { readonly kind: 'netFaults'; readonly config: NetworkConfig }
  | { readonly kind: 'netHeal' }
  | { readonly kind: 'slowLink'; readonly a: NodeId; readonly b: NodeId; readonly extraMs: number }
  | { readonly kind: 'resetConns'; readonly node: NodeId }
);

export interface FaultPlan {
  readonly seed: string;
  /** The flags in force (swarm resolved into its drawn subset). */
  readonly flags: ReadonlySet<BaseFlag>;
  /** The only node whose disk may be silently corrupted (FAULT-1). */
  readonly corruptNode: NodeId | undefined;
  /** FAULT-5: bound readers and majority-side clients (asked, or drawn by swarm). */
  readonly reads: boolean;
  readonly events: readonly FaultEvent[];
}

export interface PlanOptions {
  seed?: number | string;
  rng?: SimRng;
  flags: Iterable<FaultFlag>;
  nodeIds: readonly NodeId[];
  durationMs: number;
}

/** How often each kind strikes: the mean quiet gap between windows, and window lengths. */
interface Rates {
  gapMs: [number, number];
  lenMs: [number, number];
}

const DEFAULT_RATES: Record<BaseFlag, Rates> = {
  partition: { gapMs: [300, 3000], lenMs: [200, 3000] },
  crash: { gapMs: [500, 4000], lenMs: [50, 2000] },
  pause: { gapMs: [200, 3000], lenMs: [10, 2000] },
  disk: { gapMs: [200, 2000], lenMs: [500, 5000] },
  clock: { gapMs: [200, 2000], lenMs: [0, 0] },
  net: { gapMs: [300, 3000], lenMs: [200, 4000] },
};

const MAX_EVENTS = 100_000;

export const planFaults = (opts: PlanOptions): FaultPlan => {
  const rng = opts.rng ?? makeSimRng(opts.seed ?? 0);
  if (opts.nodeIds.length === 0) throw new Error('planFaults: no nodes');
  if (!(opts.durationMs >= 0)) throw new Error('planFaults: bad duration');
  const asked = new Set(opts.flags);
  for (const f of asked) if (!FAULT_FLAGS.includes(f)) throw new Error(`planFaults: unknown flag ${f}`);
  const flags = new Set<BaseFlag>(BASE_FLAGS.filter((f) => asked.has(f)));
  const rates: Record<BaseFlag, Rates> = { ...DEFAULT_RATES };
  if (asked.has('swarm')) swarm(rng.fork('swarm'), flags, rates);
  const reads = asked.has('reads') || (asked.has('swarm') && rng.fork('swarm-reads').chance(0.5)); // FAULT-5
  const nodes = [...opts.nodeIds];
  const corruptNode = flags.has('disk') ? rng.fork('corrupt-node').pick(nodes) : undefined;
  const events: FaultEvent[] = [];
  const ctx = { nodes, durationMs: opts.durationMs, events, corruptNode };
  for (const f of BASE_FLAGS) if (flags.has(f)) PLANNERS[f](rng.fork(f), rates[f], ctx);
  if (events.length > MAX_EVENTS) throw new Error('planFaults: too many events');
  // Stable sort by time: equal times keep timeline order (a heal before the next start).
  const sorted = events.map((e, i) => ({ e, i })).sort((x, y) => x.e.atMs - y.e.atMs || x.i - y.i).map((x) => x.e);
  return { seed: rng.seed, flags, corruptNode, reads, events: sorted };
};

/** Swarm testing: a random non-empty subset of the faults, each at a random intensity. */
const swarm = (rng: SimRng, flags: Set<BaseFlag>, rates: Record<BaseFlag, Rates>): void => {
  for (const f of BASE_FLAGS) if (rng.chance(0.5)) flags.add(f);
  if (flags.size === 0) flags.add(rng.pick(BASE_FLAGS));
  for (const f of BASE_FLAGS) {
    const k = 0.25 + rng.float() * 3.75; // gap multiplier: 0.25x (stormy) .. 4x (calm)
    const r = DEFAULT_RATES[f];
    rates[f] = { gapMs: [r.gapMs[0] * k, r.gapMs[1] * k], lenMs: r.lenMs };
  }
};

interface PlanCtx {
  nodes: NodeId[];
  durationMs: number;
  events: FaultEvent[];
  corruptNode: NodeId | undefined;
}

const draw = (rng: SimRng, [lo, hi]: [number, number]): number => Math.round(lo + rng.float() * (hi - lo));

/** Calls window(startMs) for successive non-overlapping windows; window returns its end time. */
const timeline = (rng: SimRng, rates: Rates, durationMs: number, window: (atMs: number) => number): void => {
  let t = draw(rng, rates.gapMs);
  for (let i = 0; i < MAX_EVENTS && t < durationMs; i++) {
    const end = window(t);
    if (!(end >= t)) throw new Error('faults: window ends before it starts');
    t = end + Math.max(1, draw(rng, rates.gapMs));
  }
};

const shuffled = <T>(rng: SimRng, xs: readonly T[]): T[] => {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
};

const PLANNERS: Record<BaseFlag, (rng: SimRng, rates: Rates, ctx: PlanCtx) => void> = {
  partition: (rng, rates, ctx) =>
    timeline(rng, rates, ctx.durationMs, (t) => {
      const p = drawPartition(rng, ctx.nodes);
      ctx.events.push({ atMs: t, kind: 'partition', ...p });
      const end = t + draw(rng, rates.lenMs);
      ctx.events.push({ atMs: end, kind: 'healPartition' });
      return end;
    }),
  crash: (rng, rates, ctx) =>
    timeline(rng, rates, ctx.durationMs, (t) => {
      // Usually one node; sometimes the whole cluster loses power at once.
      const victims = rng.chance(0.1) ? ctx.nodes : [rng.pick(ctx.nodes)];
      let end = t;
      for (const node of victims) {
        const back = t + draw(rng, rates.lenMs);
        ctx.events.push({ atMs: t, kind: 'crash', node }, { atMs: back, kind: 'restart', node });
        end = Math.max(end, back);
      }
      return end;
    }),
  pause: (rng, rates, ctx) =>
    timeline(rng, rates, ctx.durationMs, (t) => {
      const ms = draw(rng, rates.lenMs);
      ctx.events.push({ atMs: t, kind: 'pause', node: rng.pick(ctx.nodes), ms });
      return t + ms;
    }),
  disk: (rng, rates, ctx) =>
    timeline(rng, rates, ctx.durationMs, (t) => {
      const node = rng.pick(ctx.nodes);
      const config = drawDiskFaults(rng, node === ctx.corruptNode);
      const end = t + draw(rng, rates.lenMs);
      ctx.events.push({ atMs: t, kind: 'diskFaults', node, config });
      if (node === ctx.corruptNode && rng.chance(0.3)) ctx.events.push({ atMs: Math.round((t + end) / 2), kind: 'corrupt', node });
      ctx.events.push({ atMs: end, kind: 'diskHeal', node });
      return end;
    }),
  clock: (rng, rates, ctx) =>
    timeline(rng, rates, ctx.durationMs, (t) => {
      const node = rng.pick(ctx.nodes);
      if (rng.chance(0.4)) ctx.events.push({ atMs: t, kind: 'clockDrift', node, drift: (rng.float() * 2 - 1) * 0.05 });
      else ctx.events.push({ atMs: t, kind: 'clockStep', node, deltaMs: (rng.chance(0.5) ? -1 : 1) * rng.int(1, 60_000) });
      return t;
    }),
  net: (rng, rates, ctx) =>
    timeline(rng, rates, ctx.durationMs, (t) => {
      const end = t + draw(rng, rates.lenMs);
      const what = rng.int(0, 2);
      if (what === 0) {
        const max = rng.int(2, 50);
        ctx.events.push({
          atMs: t,
          kind: 'netFaults',
          config: { latencyMs: { min: 0.2, max }, spikeRate: rng.float() * 0.05, spikeMs: rng.int(20, 500), resetRate: rng.float() * 0.005 },
        });
      } else if (what === 1 && ctx.nodes.length > 1) {
        const [a, b] = shuffled(rng, ctx.nodes);
        ctx.events.push({ atMs: t, kind: 'slowLink', a, b, extraMs: rng.int(5, 200) });
      } else {
        ctx.events.push({ atMs: t, kind: 'resetConns', node: rng.pick(ctx.nodes) });
      }
      ctx.events.push({ atMs: end, kind: 'netHeal' });
      return end;
    }),
};

const drawPartition = (rng: SimRng, nodes: readonly NodeId[]): { mode: PartitionMode; groups: NodeId[][] } => {
  if (nodes.length < 2) return { mode: 'isolate', groups: [[...nodes], []] };
  const modes: PartitionMode[] = ['symmetric', 'oneWay', 'majority', 'isolate', 'isolateLeader'];
  if (nodes.length >= 3) modes.push('bridge');
  const mode = rng.pick(modes);
  const s = shuffled(rng, nodes);
  switch (mode) {
    case 'symmetric':
    case 'oneWay': {
      const k = rng.int(1, s.length - 1);
      return { mode, groups: [s.slice(0, k), s.slice(k)] };
    }
    case 'majority': {
      const minority = Math.floor((s.length - 1) / 2) || 1;
      return { mode, groups: [s.slice(0, minority), s.slice(minority)] };
    }
    case 'isolate':
      return { mode, groups: [[s[0]], s.slice(1)] };
    case 'isolateLeader':
      return { mode, groups: [] }; // resolved when applied, through leaderOf
    case 'bridge': {
      const bridge = s[0];
      const rest = s.slice(1);
      const k = rng.int(1, rest.length - 1);
      return { mode, groups: [rest.slice(0, k), rest.slice(k), [bridge]] };
    }
  }
};

const drawDiskFaults = (rng: SimRng, silentOk: boolean): DiskFaultConfig => {
  const rate = (max: number) => (rng.chance(0.5) ? rng.float() * max : 0);
  const c: DiskFaultConfig = {
    readErrorRate: rate(0.01),
    syncFailRate: rate(0.002),
    enospcRate: rate(0.002),
    slowRate: rate(0.05),
    slowMs: rng.int(10, 300),
  };
  if (silentOk) {
    c.bitRotRate = rate(0.01);
    c.lostWriteRate = rate(0.002);
    c.misdirectedWriteRate = rate(0.002);
  }
  return c;
};

// ---------------------------------------------------------------------------------------------
// Carrying a plan out

export interface FaultContext {
  /** The current leader, for 'isolateLeader' partitions (else a random node is isolated). */
  leaderOf?: () => NodeId | undefined;
  /** Called after each event is applied (logging, history). */
  onApplied?: (ev: FaultEvent) => void;
}

export interface FaultSchedule {
  readonly plan: FaultPlan;
  /** Events applied so far, in order. */
  readonly applied: FaultEvent[];
  cancel(): void;
}

interface Baselines {
  net: NetworkConfig;
  disks: Map<NodeId, DiskFaultConfig>;
}

const baselines = new WeakMap<World<any, any, any>, Baselines>();

/** The world's fault-free configuration, captured the first time faults touch it. */
const baselineOf = (world: World<any, any, any>): Baselines => {
  let b = baselines.get(world);
  if (!b) {
    const disks = new Map<NodeId, DiskFaultConfig>();
    for (const id of world.nodeIds) disks.set(id, world.disk(id).getFaults());
    b = { net: world.network.getConfig(), disks };
    baselines.set(world, b);
  }
  return b;
};

export const scheduleFaults = (world: World<any, any, any>, plan: FaultPlan, ctx: FaultContext = {}): FaultSchedule => {
  baselineOf(world);
  const pending: ScheduledEvent[] = [];
  const applied: FaultEvent[] = [];
  const start = world.now();
  for (const ev of plan.events) {
    pending.push(
      world.at(start + ev.atMs, () => {
        applyFault(world, ev, ctx);
        applied.push(ev);
        ctx.onApplied?.(ev);
      }),
    );
  }
  return {
    plan,
    applied,
    cancel: () => {
      for (const p of pending) world.cancel(p);
    },
  };
};

export const applyFault = (world: World<any, any, any>, ev: FaultEvent, ctx: FaultContext = {}): void => {
  const base = baselineOf(world);
  const now = world.now();
  world.trace.event(now, `fault:${ev.kind}`, 'node' in ev ? ev.node : 0);
  switch (ev.kind) {
    case 'partition':
      return applyPartition(world, ev.mode, ev.groups, ctx);
    case 'healPartition':
      return world.network.heal();
    case 'crash':
      return world.crash(ev.node);
    case 'restart':
      return world.restart(ev.node);
    case 'pause':
      return world.pause(ev.node, ev.ms);
    case 'diskFaults':
      return world.disk(ev.node).setFaults({ ...(base.disks.get(ev.node) ?? {}), ...ev.config });
    case 'diskHeal':
      return world.disk(ev.node).setFaults(base.disks.get(ev.node) ?? {});
    case 'corrupt':
      return corruptSomething(world, ev.node);
    case 'clockDrift':
      return world.clock(ev.node).setDrift(now, ev.drift);
    case 'clockStep':
      return world.clock(ev.node).stepWall(ev.deltaMs);
    case 'netFaults':
      return world.network.setConfig({ ...base.net, ...ev.config });
    case 'netHeal':
      world.network.setConfig(base.net);
      return world.network.clearLinkDelays();
    case 'slowLink':
      return world.network.setLinkDelay(ev.a, ev.b, ev.extraMs);
    case 'resetConns':
      for (const c of world.network.openConnections()) if (c.a === ev.node || c.b === ev.node) world.network.breakConn(c, 'reset');
      return;
  }
};

const applyPartition = (world: World<any, any, any>, mode: PartitionMode, groups: readonly (readonly NodeId[])[], ctx: FaultContext): void => {
  const nodes = world.nodeIds;
  switch (mode) {
    case 'symmetric':
    case 'majority':
    case 'isolate':
      return world.network.partition(groups);
    case 'oneWay':
      return world.network.oneWay(groups[0], groups[1]);
    case 'bridge':
      return world.network.bridge(groups[0], groups[1], groups[2][0]);
    case 'isolateLeader': {
      const leader = ctx.leaderOf?.();
      const victim = leader !== undefined && nodes.includes(leader) ? leader : world.rngFor('nemesis').pick(nodes);
      return world.network.isolate(victim, nodes);
    }
  }
};

/** Bit-rot at rest: a few bytes of one file on the (only) corruptible node (FAULT-1). */
const corruptSomething = (world: World<any, any, any>, node: NodeId): void => {
  const disk = world.disk(node);
  const files = disk.files().filter((f) => (disk.peek(f)?.length ?? 0) > 0);
  if (files.length === 0) return;
  const rng = world.rngFor(`corrupt/${node}`);
  const file = rng.pick(files);
  const size = disk.peek(file)!.length;
  const offset = rng.int(0, size - 1);
  disk.corrupt(file, offset, Math.min(size - offset, rng.int(1, 16)));
};

/** Ends every fault now (FAULT-3). */
export const healAll = (world: World<any, any, any>, schedule?: FaultSchedule): void => {
  schedule?.cancel();
  const base = baselineOf(world);
  world.trace.event(world.now(), 'fault:healAll');
  world.network.heal();
  world.network.clearLinkDelays();
  world.network.setConfig(base.net);
  for (const id of world.nodeIds) {
    const f = base.disks.get(id) ?? {};
    world.disk(id).setFaults({ latencyMs: f.latencyMs, tornWriteRate: f.tornWriteRate });
    if (world.isPaused(id)) world.resume(id);
    if (!world.isUp(id)) world.restart(id);
  }
};

/** One line per event, for reports and reproduction messages. */
export const describePlan = (plan: FaultPlan): string[] =>
  plan.events.map((e) => {
    const { atMs, kind, ...rest } = e as FaultEvent & Record<string, unknown>;
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
      .join(' ');
    return `${String(atMs).padStart(7)}ms ${kind}${fields ? ' ' + fields : ''}`;
  });
