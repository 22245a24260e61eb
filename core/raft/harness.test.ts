// A small deterministic world for quorum tests (no tests of its own; the *.test.ts name keeps
// it out of the purity scan, since it drives sim/disk.ts). One event queue ordered by
// (virtual time, sequence); per-link FIFO message delivery with latency, drops and partitions,
// and optionally duplicates (a copy delivered up to dupDelayMaxMs later, out of FIFO order; for
// RAFT-15); per-node timers; per-node SimDisk whose operations complete one at a time, in order.
// Crash = memory gone + SimDisk.crash(); restart = a fresh RaftReplica over the same disk.
// Checkers run after every event: at most one leader per epoch (RAFT-1), committed entries
// never change (RAFT-2/3), HW monotonic per incarnation (RAFT-4), applied = committed (RAFT-12).
import type { Effect, Input, NodeId } from '../io.ts';
import { SimDisk } from '../../sim/disk.ts';
import type { DiskFaultConfig } from '../../sim/disk.ts';
import { makeSimRng } from '../../sim/rng.ts';
import type { SimRng } from '../../sim/rng.ts';
import type { RaftMessage } from './messages.ts';
import { RaftReplica } from './replica.ts';
import type { RaftConfig, StateMachine } from './replica.ts';

const te = new TextEncoder();
const td = new TextDecoder();
export const bytes = (s: string): Uint8Array => te.encode(s);
export const str = (b: Uint8Array): string => td.decode(b);

/** A state machine that records applied payloads; its snapshot is that list. */
export class ListSM implements StateMachine {
  applied: { offset: number; epoch: number; payload: string }[] = [];
  base = 0; // offset the list starts after (snapshot end)
  ready: number[] = [];
  /** Per `ready` token: the replica's applied offset when it was ready (control entries such as
   *  LeaderChange are applied without reaching the state machine, so its list cannot tell). */
  readyAt: number[] = [];
  /** The replica's applied offset (set by the harness). */
  appliedEnd: () => number = () => this.base;
  failed: number[] = [];
  leaderLog: { leader: NodeId | undefined; epoch: number }[] = [];
  apply(e: { offset: number; epoch: number; payload: Uint8Array }): void {
    this.applied.push({ offset: e.offset, epoch: e.epoch, payload: str(e.payload) });
  }
  snapshot(): Uint8Array {
    return bytes(JSON.stringify(this.applied));
  }
  restore(b: Uint8Array, endOffset: number): void {
    this.applied = JSON.parse(str(b));
    this.base = endOffset;
  }
  leadershipChanged(leader: NodeId | undefined, epoch: number): void {
    this.leaderLog.push({ leader, epoch });
  }
  readReady(token: number): void {
    this.ready.push(token);
    this.readyAt.push(this.appliedEnd());
  }
  readFailed(token: number): void {
    this.failed.push(token);
  }
  values(): string[] {
    return this.applied.map((a) => a.payload);
  }
}

type Ev =
  | { kind: 'msg'; from: NodeId; to: NodeId; msg: RaftMessage; inc: number }
  | { kind: 'timer'; node: NodeId; name: string; gen: number; inc: number }
  | { kind: 'disk'; node: NodeId; id: number; inc: number };

interface QEntry {
  at: number;
  seq: number;
  ev: Ev;
}

export interface NodeSlot {
  readonly id: NodeId;
  replica: RaftReplica;
  sm: ListSM;
  readonly disk: SimDisk;
  alive: boolean;
  inc: number;
  timers: Map<string, number>;
  diskQueue: { id: number; op: Effect & { tag: 'Disk' } }[];
  diskBusyUntil: number;
  lastHw: number;
  /** RAFT-11: how many of `sm.ready` the checker has seen. */
  readsChecked: number;
}

export interface ClusterOptions {
  n?: number;
  seed?: number;
  cfg?: Partial<RaftConfig>;
  diskFaults?: DiskFaultConfig;
  latencyMs?: { min: number; max: number };
  dropRate?: number;
  /** Per message: a copy is also delivered, up to `dupDelayMaxMs` later, ignoring FIFO. */
  dupRate?: number;
  dupDelayMaxMs?: number;
  /** Extra non-voting replicas (ids after the voters) that only fetch. */
  observers?: number;
}

export class Cluster {
  now = 0;
  private seq = 0;
  private queue: QEntry[] = [];
  readonly nodes = new Map<NodeId, NodeSlot>();
  readonly rng: SimRng;
  private nextDiskId = 1;
  private linkAt = new Map<string, number>();
  blocked = new Set<string>();
  dropRate: number;
  dupRate: number;
  readonly dupDelayMaxMs: number;
  latency: { min: number; max: number };
  /** epoch -> leader */
  readonly leaders = new Map<number, NodeId>();
  /** offset -> "epoch:payload" of every entry ever seen committed */
  readonly committed = new Map<number, string>();
  /** RAFT-11: per read token, the committed end when the read began. */
  readonly readFloors = new Map<number, number>();
  eventsRun = 0;
  readonly cfgBase: RaftConfig;
  /** Paused nodes (a stop-the-world pause): their events wait in `held` until resume. */
  readonly paused = new Set<NodeId>();
  held: { at: number; ev: Ev }[] = [];
  /** Called after each message is handed to its receiver. */
  onMessage?: (from: NodeId, to: NodeId, msg: RaftMessage) => void;

  constructor(readonly opts: ClusterOptions = {}) {
    const n = opts.n ?? 3;
    this.rng = makeSimRng(opts.seed ?? 1);
    this.dropRate = opts.dropRate ?? 0;
    this.dupRate = opts.dupRate ?? 0;
    this.dupDelayMaxMs = opts.dupDelayMaxMs ?? 300;
    this.latency = opts.latencyMs ?? { min: 1, max: 5 };
    const voters = Array.from({ length: n }, (_, i) => i + 1);
    this.cfgBase = {
      nodeId: 0,
      voters,
      dir: 'meta',
      electionTimeoutMs: 150,
      fetchTimeoutMs: 200,
      fetchMaxWaitMs: 50,
      snapshotEveryEntries: 1000,
      maxFetchEntries: 50,
      snapshotChunkBytes: 256,
      ...opts.cfg,
    };
    const all = [...voters, ...Array.from({ length: opts.observers ?? 0 }, (_, i) => n + i + 1)];
    for (const id of all) {
      const disk = new SimDisk(this.rng.fork(`disk${id}`), opts.diskFaults ?? { latencyMs: { min: 0.1, max: 1 }, tornWriteRate: 0.5 });
      const slot: NodeSlot = { id, disk, alive: false, inc: 0, timers: new Map(), diskQueue: [], diskBusyUntil: 0, lastHw: 0, readsChecked: 0, sm: new ListSM(), replica: undefined as unknown as RaftReplica };
      this.nodes.set(id, slot);
      this.start(id);
    }
  }

  node(id: NodeId): NodeSlot {
    const s = this.nodes.get(id);
    if (!s) throw new Error(`no node ${id}`);
    return s;
  }

  private start(id: NodeId): void {
    const s = this.node(id);
    s.inc++;
    s.alive = true;
    s.timers.clear();
    s.diskQueue = [];
    s.lastHw = 0;
    s.readsChecked = 0;
    s.sm = new ListSM();
    s.replica = new RaftReplica({ ...this.cfgBase, nodeId: id }, s.sm, { next: () => this.nextDiskId++ });
    s.sm.appliedEnd = () => s.replica.appliedOffset;
    this.deliver(id, { tag: 'Start', seed: this.rng.int(0, 2 ** 31), now: this.now, wall: this.now });
  }

  crash(id: NodeId): void {
    const s = this.node(id);
    if (!s.alive) return;
    s.alive = false;
    s.inc++;
    s.disk.crash();
  }

  restart(id: NodeId): void {
    if (this.node(id).alive) return;
    this.start(id);
  }

  partition(a: NodeId, b: NodeId): void {
    this.blocked.add(`${a}>${b}`);
    this.blocked.add(`${b}>${a}`);
  }
  isolate(id: NodeId): void {
    for (const o of this.nodes.keys()) if (o !== id) this.partition(id, o);
  }
  /** Only nodes within the same group can talk; nodes in no group are isolated. */
  split(...groups: NodeId[][]): void {
    this.blocked.clear();
    const group = (id: NodeId): number => groups.findIndex((g) => g.includes(id));
    for (const a of this.nodes.keys()) {
      for (const b of this.nodes.keys()) if (a !== b && (group(a) < 0 || group(a) !== group(b))) this.blocked.add(`${a}>${b}`);
    }
  }
  heal(): void {
    this.blocked.clear();
  }
  pause(id: NodeId): void {
    this.paused.add(id);
  }
  /** Ends a pause: everything that arrived meanwhile is delivered now, in arrival order. */
  resume(id: NodeId): void {
    this.paused.delete(id);
    const mine = this.held.filter((h) => (h.ev.kind === 'msg' ? h.ev.to : h.ev.node) === id);
    this.held = this.held.filter((h) => (h.ev.kind === 'msg' ? h.ev.to : h.ev.node) !== id);
    for (const h of mine) this.push(this.now, h.ev);
  }

  private push(at: number, ev: Ev): void {
    this.queue.push({ at, seq: this.seq++, ev });
  }

  /** Feeds an input to a node and carries out its effects. */
  deliver(id: NodeId, input: Input<RaftMessage>): void {
    const s = this.node(id);
    if (!s.alive) return;
    this.apply(s, s.replica.step(input));
  }

  apply(s: NodeSlot, effects: Effect<RaftMessage, never>[]): void {
    for (const e of effects) {
      switch (e.tag) {
        case 'Send': {
          if (this.blocked.has(`${s.id}>${e.to}`) || (this.dropRate > 0 && this.rng.chance(this.dropRate))) break;
          const link = `${s.id}>${e.to}`;
          const at = Math.max(this.linkAt.get(link) ?? 0, this.now + this.rng.int(this.latency.min, this.latency.max));
          this.linkAt.set(link, at);
          this.push(at, { kind: 'msg', from: s.id, to: e.to, msg: e.message, inc: this.node(e.to).inc });
          if (this.dupRate > 0 && this.rng.chance(this.dupRate)) {
            this.push(at + this.rng.int(0, this.dupDelayMaxMs), { kind: 'msg', from: s.id, to: e.to, msg: e.message, inc: this.node(e.to).inc });
          }
          break;
        }
        case 'SetTimer': {
          const gen = this.seq;
          s.timers.set(e.timer, gen);
          this.push(this.now + e.afterMs, { kind: 'timer', node: s.id, name: e.timer, gen, inc: s.inc });
          break;
        }
        case 'CancelTimer':
          s.timers.delete(e.timer);
          break;
        case 'Disk': {
          if (!s.replica.ownsDisk(e.id)) throw new Error(`replica does not own disk id ${e.id}`);
          const at = Math.max(this.now, s.diskBusyUntil) + s.disk.latencyMs(e.op);
          s.diskBusyUntil = at;
          this.push(at, { kind: 'disk', node: s.id, id: e.id, inc: s.inc });
          s.diskQueue.push({ id: e.id, op: e });
          break;
        }
        default:
          throw new Error(`unexpected effect ${e.tag}`);
      }
    }
    this.check(s);
  }

  propose(id: NodeId, ...payloads: string[]): { ok: boolean; offsets?: number[] } {
    const s = this.node(id);
    if (!s.alive) return { ok: false };
    const r = s.replica.propose(payloads.map(bytes), { now: this.now, wall: this.now });
    this.apply(s, r.effects);
    return r.ok ? { ok: true, offsets: r.offsets } : { ok: false };
  }

  readIndex(id: NodeId, token: number): void {
    const s = this.node(id);
    // RAFT-11: the read must see every entry committed before it began (any replica's HW).
    this.readFloors.set(token, Math.max(...[...this.nodes.values()].map((n) => n.lastHw)));
    this.apply(s, s.replica.readIndex(token, { now: this.now, wall: this.now }));
  }

  /** Runs one event; false when the queue is empty. */
  stepOnce(): boolean {
    if (this.queue.length === 0) return false;
    let best = 0;
    for (let i = 1; i < this.queue.length; i++) {
      const q = this.queue[i];
      const b = this.queue[best];
      if (q.at < b.at || (q.at === b.at && q.seq < b.seq)) best = i;
    }
    const { at, ev } = this.queue.splice(best, 1)[0];
    this.now = Math.max(this.now, at);
    if (this.paused.has(ev.kind === 'msg' ? ev.to : ev.node)) {
      this.held.push({ at, ev });
      return true;
    }
    this.eventsRun++;
    const stamp = { now: this.now, wall: this.now };
    switch (ev.kind) {
      case 'msg': {
        const to = this.node(ev.to);
        if (!to.alive || to.inc !== ev.inc || this.blocked.has(`${ev.from}>${ev.to}`)) break;
        this.deliver(ev.to, { tag: 'Message', from: ev.from, message: ev.msg, ...stamp });
        this.onMessage?.(ev.from, ev.to, ev.msg);
        break;
      }
      case 'timer': {
        const s = this.node(ev.node);
        if (!s.alive || s.inc !== ev.inc || s.timers.get(ev.name) !== ev.gen) break;
        s.timers.delete(ev.name);
        this.deliver(ev.node, { tag: 'Timer', timer: ev.name, ...stamp });
        break;
      }
      case 'disk': {
        const s = this.node(ev.node);
        if (!s.alive || s.inc !== ev.inc) break;
        const head = s.diskQueue.shift();
        if (!head || head.id !== ev.id) throw new Error('disk completions out of order');
        const r = s.disk.execute(head.op.op);
        const input: Input<RaftMessage> = r.ok
          ? { tag: 'DiskDone', id: head.id, op: head.op.op.kind, result: r.result, ...stamp }
          : { tag: 'DiskFailed', id: head.id, op: head.op.op.kind, error: r.error, ...stamp };
        this.deliver(ev.node, input);
        break;
      }
    }
    return true;
  }

  runFor(ms: number, maxEvents = 200_000): void {
    const until = this.now + ms;
    for (let i = 0; i < maxEvents; i++) {
      if (this.queue.length === 0) break;
      let min = Infinity;
      for (const q of this.queue) min = Math.min(min, q.at);
      if (min > until) break;
      this.stepOnce();
    }
    this.now = Math.max(this.now, until);
  }

  runUntil(pred: () => boolean, maxMs = 10_000): boolean {
    const until = this.now + maxMs;
    for (let i = 0; i < 500_000 && this.now <= until; i++) {
      if (pred()) return true;
      if (!this.stepOnce()) break;
    }
    return pred();
  }

  leader(): NodeSlot | undefined {
    let best: NodeSlot | undefined;
    for (const s of this.nodes.values()) {
      if (s.alive && s.replica.role === 'leader' && (!best || s.replica.epoch > best.replica.epoch)) best = s;
    }
    return best;
  }

  alive(): NodeSlot[] {
    return [...this.nodes.values()].filter((s) => s.alive);
  }

  /** Checkers (after every step of node s). */
  private check(s: NodeSlot): void {
    const r = s.replica;
    if (r.role === 'leader') {
      const prev = this.leaders.get(r.epoch);
      if (prev !== undefined && prev !== s.id) throw new Error(`RAFT-1: two leaders in epoch ${r.epoch}: ${prev} and ${s.id}`);
      this.leaders.set(r.epoch, s.id);
    }
    if (r.highWatermark < s.lastHw) throw new Error(`RAFT-4: HW of ${s.id} went back ${s.lastHw} -> ${r.highWatermark}`);
    for (let o = Math.max(s.lastHw, r.logStartOffset); o < r.highWatermark; o++) {
      const e = r.entryAt(o);
      if (!e) throw new Error(`node ${s.id}: committed entry ${o} missing`);
      const v = `${e.epoch}:${e.control ? '#' : ''}${str(e.payload)}`;
      const seen = this.committed.get(o);
      if (seen === undefined) this.committed.set(o, v);
      else if (seen !== v) throw new Error(`RAFT-2/3: committed entry ${o} differs: ${seen} vs node ${s.id} ${v}`);
    }
    s.lastHw = r.highWatermark;
    // RAFT-11: a read is ready only once this replica applied what was committed when it began.
    for (; s.readsChecked < s.sm.ready.length; s.readsChecked++) {
      const token = s.sm.ready[s.readsChecked]!;
      const floor = this.readFloors.get(token);
      const at = s.sm.readyAt[s.readsChecked]!;
      if (floor !== undefined && at < floor) throw new Error(`RAFT-11: read ${token} on node ${s.id} ready with applied end ${at}, below ${floor} committed when it began`);
    }
    // RAFT-12: applied entries match what was committed at their offsets.
    const a = s.sm.applied;
    const last = a[a.length - 1];
    if (last && this.committed.has(last.offset) && this.committed.get(last.offset) !== `${last.epoch}:${last.payload}`) {
      throw new Error(`RAFT-12: node ${s.id} applied ${last.offset} = ${last.payload}, committed ${this.committed.get(last.offset)}`);
    }
  }
}
