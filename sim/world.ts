// The simulator's driver: it owns virtual time (one Scheduler), one SimDisk and NodeClock per
// node, the SimNetwork, and the Machines; it delivers Inputs (core/io.ts) and carries out the
// Effects they return. Sim clients (workloads; not Machines) talk to nodes over connections.
//
// Invariants:
//  WORLD-1  A node steps one input at a time; each input is stamped with that node's clock at
//           the moment of delivery (never before an earlier input's stamp).
//  WORLD-2  A node's disk ops run one at a time in emission order; their completions are
//           delivered in that order (the io.ts disk contract).
//  WORLD-3  Nothing from a dead incarnation reaches a new one: a crash drops the machine, its
//           timers, queued disk ops, held inputs and connections; restart boots a new Machine.
//  WORLD-4  A paused node receives nothing during the pause; what arrived for it (messages,
//           requests, timers, disk completions) is delivered after, late and in arrival order.
//  WORLD-5  A timer of afterMs fires no earlier than afterMs of the node's monotonic time.
//  WORLD-6  Every random choice derives from the world seed (run = f(seed, options)); the trace
//           hash covers every delivered input, client reply and fault.
//
// Faults it carries out: process crash/restart/pause, and through its parts network, disk and
// clock faults (see network.ts, disk.ts, clock.ts, faults.ts).

import type { ConnId, DiskOp, DiskOpId, DiskOpKind, Effect, Input, Machine, NodeId } from '../core/io.ts';
import { NodeClock } from './clock.ts';
import { type DiskExecResult, type DiskFaultConfig, SimDisk, inProgressRun } from './disk.ts';
import { type BreakReason, type Connection, type Endpoint, type NetworkConfig, SimNetwork } from './network.ts';
import { makeSimRng, type SimRng } from './rng.ts';
import { type ScheduledEvent, Scheduler } from './scheduler.ts';
import { Trace, type TraceMode } from './trace.ts';

export interface ClientHandlers<Res> {
  onReply(corr: number, response: Res): void;
  /** The connection broke (node crashed or closed it, reset, partition). Not called after the
   *  client's own disconnect(). */
  onClose(): void;
}

export interface WorldClockOptions {
  /** Each node's initial drift is uniform in [-maxDrift, maxDrift]. Default 0. */
  maxDrift?: number;
  /** Each node's initial wall offset is uniform in [-maxWallOffsetMs, maxWallOffsetMs]. Default 0. */
  maxWallOffsetMs?: number;
}

export interface WorldOptions<Msg, Req, Res> {
  seed: number | string;
  nodeIds: readonly NodeId[];
  makeNode: (id: NodeId, incarnation: number) => Machine<Msg, Req, Res>;
  /** Wire size of a message, request or response, for bandwidth. Default 0 (unlimited). */
  sizeOf?: (payload: Msg | Req | Res) => number;
  network?: NetworkConfig;
  disk?: DiskFaultConfig;
  clock?: WorldClockOptions;
  trace?: TraceMode;
  /** Endpoint id of sim clients in the network (for partitions including clients). Default -1. */
  clientEndpoint?: Endpoint;
}

export type StepHook<Msg, Req, Res> = (node: NodeId, input: Input<Msg, Req>, effects: readonly Effect<Msg, Res>[]) => void;

interface PendingDisk {
  readonly id: DiskOpId;
  readonly op: DiskOp;
}

interface TimerEntry {
  ev: ScheduledEvent;
  readonly deadlineMono: number;
}

interface NodeState<Msg, Req, Res> {
  readonly id: NodeId;
  incarnation: number;
  /** Bumped on every crash and restart: closures from an older life do nothing (WORLD-3). */
  life: number;
  machine: Machine<Msg, Req, Res> | undefined;
  readonly clock: NodeClock;
  readonly disk: SimDisk;
  readonly timers: Map<string, TimerEntry>;
  diskQueue: PendingDisk[];
  /** The op the disk is carrying out (applied when it started); undefined when idle. */
  diskRunning: DiskOp | undefined;
  diskHead: number;
  paused: boolean;
  resumeEv: ScheduledEvent | undefined;
  held: (() => void)[];
  stepping: boolean;
}

interface ClientConn<Res> {
  readonly kind: 'client';
  readonly connId: ConnId;
  readonly node: NodeId;
  readonly handlers: ClientHandlers<Res>;
  readonly net: Connection;
  closedByClient: boolean;
  closedByNode: boolean;
  done: boolean;
}

const PEER = { kind: 'peer' } as const;
/** Client-connection packets: a request or reply with its correlation id, or FIN. */
class PacketBox {
  constructor(
    readonly corr: number,
    readonly body: unknown,
    readonly fin: boolean,
  ) {}
}
/** Immutable, so one FIN serves every connection. */
const FIN = new PacketBox(0, undefined, true);

const MAX_EFFECTS_PER_STEP = 100_000;
const MAX_DISK_QUEUE = 100_000;
const MAX_HELD_INPUTS = 1_000_000;

export class World<Msg = unknown, Req = unknown, Res = unknown> {
  readonly seed: string;
  readonly nodeIds: readonly NodeId[];
  readonly scheduler: Scheduler;
  readonly network: SimNetwork<unknown>;
  readonly trace: Trace;
  private readonly rng: SimRng;
  private readonly makeNode: (id: NodeId, incarnation: number) => Machine<Msg, Req, Res>;
  private readonly nodes = new Map<NodeId, NodeState<Msg, Req, Res>>();
  private readonly peerConns = new Map<NodeId, Map<NodeId, Connection>>();
  private readonly clientConns = new Map<ConnId, ClientConn<Res>>();
  /** The network endpoint of sim clients (include it in partitions to cut clients off). */
  readonly clientEndpoint: Endpoint;
  private readonly hooks: StepHook<Msg, Req, Res>[] = [];
  private nextConnId = 1;
  private steps = 0;

  constructor(opts: WorldOptions<Msg, Req, Res>) {
    if (opts.nodeIds.length === 0) throw new Error('World: no nodes');
    if (new Set(opts.nodeIds).size !== opts.nodeIds.length) throw new Error('World: duplicate node ids');
    this.seed = String(opts.seed);
    this.rng = makeSimRng(this.seed);
    this.nodeIds = [...opts.nodeIds];
    this.makeNode = opts.makeNode;
    this.clientEndpoint = opts.clientEndpoint ?? -1;
    if (this.nodeIds.includes(this.clientEndpoint)) throw new Error('World: clientEndpoint collides with a node id');
    this.scheduler = new Scheduler();
    this.trace = new Trace(opts.trace ?? 'full');
    const sizeOf = opts.sizeOf as ((p: unknown) => number) | undefined;
    this.network = new SimNetwork<unknown>({
      rng: this.rng.fork('net'),
      scheduler: this.scheduler,
      config: opts.network,
      sizeOf: sizeOf ? (p) => (p instanceof PacketBox ? (p.fin ? 0 : sizeOf(p.body)) : sizeOf(p)) : undefined,
      handlers: { deliver: (c, from, to, m) => this.onDeliver(c, from, to, m), broken: (c, r) => this.onBroken(c, r) },
    });
    for (const id of this.nodeIds) this.nodes.set(id, this.makeState(id, opts));
    // Machines exist from construction (clients may connect at once); Start is their first input,
    // delivered at time 0 before anything else, so hooks registered now see it.
    for (const id of this.nodeIds) {
      const n = this.node(id);
      n.machine = this.makeNode(id, 0);
      this.scheduler.at(0, () => this.start(n, n.life));
    }
  }

  private makeState(id: NodeId, opts: WorldOptions<Msg, Req, Res>): NodeState<Msg, Req, Res> {
    const crng = this.rng.fork(`clock/${id}`);
    const maxDrift = opts.clock?.maxDrift ?? 0;
    const maxOff = opts.clock?.maxWallOffsetMs ?? 0;
    const clock = new NodeClock({
      drift: maxDrift > 0 ? (crng.float() * 2 - 1) * maxDrift : 0,
      wallOffsetMs: maxOff > 0 ? Math.round((crng.float() * 2 - 1) * maxOff) : 0,
    });
    return {
      id,
      incarnation: 0,
      life: 0,
      machine: undefined,
      clock,
      disk: new SimDisk(this.rng.fork(`disk/${id}`), opts.disk),
      timers: new Map(),
      diskQueue: [],
      diskRunning: undefined,
      diskHead: 0,
      paused: false,
      resumeEv: undefined,
      held: [],
      stepping: false,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Running

  now(): number {
    return this.scheduler.now();
  }

  /** Runs events up to and including untilMs (virtual), then sets the time to untilMs. */
  run(opts: { untilMs: number; maxEvents?: number }): number {
    return this.scheduler.runUntil(opts.untilMs, opts.maxEvents);
  }

  /** Runs one event. False if nothing is scheduled. */
  step(): boolean {
    return this.scheduler.runNext();
  }

  /** Runs until pred() holds (checked after each event) or untilMs passes. True if it held. */
  runUntil(pred: () => boolean, untilMs: number): boolean {
    while (!pred()) {
      const t = this.scheduler.peekTimeMs();
      if (t === undefined || t > untilMs) {
        this.scheduler.runUntil(untilMs);
        return pred();
      }
      this.scheduler.runNext();
    }
    return true;
  }

  at(timeMs: number, fn: () => void): ScheduledEvent {
    return this.scheduler.at(timeMs, fn);
  }

  after(delayMs: number, fn: () => void): ScheduledEvent {
    return this.scheduler.after(delayMs, fn);
  }

  cancel(ev: ScheduledEvent | undefined): void {
    this.scheduler.cancel(ev);
  }

  onStep(cb: StepHook<Msg, Req, Res>): () => void {
    this.hooks.push(cb);
    return () => {
      const i = this.hooks.indexOf(cb);
      if (i >= 0) this.hooks.splice(i, 1);
    };
  }

  /** A deterministic random stream for a workload or nemesis, derived from the world seed. */
  rngFor(label: string): SimRng {
    return this.rng.fork(`user/${label}`);
  }

  traceHash(): string {
    return this.trace.hash();
  }

  stats(): { steps: number; nowMs: number; traceEntries: number } {
    return { steps: this.steps, nowMs: this.now(), traceEntries: this.trace.count() };
  }

  // -------------------------------------------------------------------------------------------
  // Inspection

  machine(id: NodeId): Machine<Msg, Req, Res> | undefined {
    return this.node(id).machine;
  }

  disk(id: NodeId): SimDisk {
    return this.node(id).disk;
  }

  clock(id: NodeId): NodeClock {
    return this.node(id).clock;
  }

  isUp(id: NodeId): boolean {
    return this.node(id).machine !== undefined;
  }

  isPaused(id: NodeId): boolean {
    return this.node(id).paused;
  }

  incarnation(id: NodeId): number {
    return this.node(id).incarnation;
  }

  private node(id: NodeId): NodeState<Msg, Req, Res> {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`World: unknown node ${id}`);
    return n;
  }

  // -------------------------------------------------------------------------------------------
  // Process faults

  /** The process dies: memory, timers, queued disk ops and connections gone. By default it is a
   *  power loss (disk.crash(): unsynced writes lost or torn); keepPageCache models a process kill
   *  on a surviving OS, where written data stays. */
  crash(id: NodeId, opts: { keepPageCache?: boolean } = {}): void {
    const n = this.node(id);
    if (!n.machine) return;
    this.trace.event(this.now(), 'crash', id, n.incarnation);
    n.machine = undefined;
    n.life++;
    for (const t of n.timers.values()) this.scheduler.cancel(t.ev);
    n.timers.clear();
    // DISK-1: durable writes queued behind a running one may have been in progress with it (the
    // running op was applied when it started). Only a power loss needs them.
    const running = n.diskRunning;
    const overlapped =
      opts.keepPageCache || running === undefined ? [] : inProgressRun([running, ...n.diskQueue.slice(n.diskHead).map((p) => p.op)]).slice(1);
    n.diskQueue = [];
    n.diskHead = 0;
    n.diskRunning = undefined;
    n.held = [];
    n.paused = false;
    this.scheduler.cancel(n.resumeEv);
    n.resumeEv = undefined;
    if (!opts.keepPageCache) n.disk.crash(overlapped);
    this.network.breakEndpoint(id);
  }

  /** Boots a new incarnation of a crashed node (no-op if it is up). */
  restart(id: NodeId): void {
    const n = this.node(id);
    if (n.machine) return;
    n.incarnation++;
    this.boot(n);
  }

  private boot(n: NodeState<Msg, Req, Res>): void {
    if (n.machine) throw new Error(`World: boot of running node ${n.id}`);
    n.life++;
    n.machine = this.makeNode(n.id, n.incarnation);
    this.start(n, n.life);
  }

  private start(n: NodeState<Msg, Req, Res>, life: number): void {
    if (!n.machine || n.life !== life) return; // crashed before its first Start
    this.trace.event(this.now(), 'boot', n.id, n.incarnation);
    const seed = makeSimRng(`${this.seed}/start/${n.id}/${n.incarnation}`).u32();
    const { now, wall } = n.clock.stamp(this.now());
    this.stepNode(n, { tag: 'Start', now, wall, seed });
  }

  /** The process stops handling events for ms (GC pause, SIGSTOP); extends an ongoing pause. */
  pause(id: NodeId, ms: number): void {
    const n = this.node(id);
    if (!(ms >= 0)) throw new Error('World.pause: negative duration');
    if (!n.machine) return;
    const until = this.now() + ms;
    if (n.paused && n.resumeEv && n.resumeEv.timeMs >= until) return;
    this.trace.event(this.now(), 'pause', id, ms);
    n.paused = true;
    this.scheduler.cancel(n.resumeEv);
    n.resumeEv = this.scheduler.at(until, () => this.resume(id));
  }

  /** Ends a pause now: held inputs are delivered, in order (WORLD-4). */
  resume(id: NodeId): void {
    const n = this.node(id);
    if (!n.paused) return;
    this.trace.event(this.now(), 'resume', id);
    n.paused = false;
    this.scheduler.cancel(n.resumeEv);
    n.resumeEv = undefined;
    const held = n.held;
    n.held = [];
    for (const fn of held) fn(); // each re-checks pause/crash, so a re-pause re-holds in order
  }

  // -------------------------------------------------------------------------------------------
  // Input delivery

  private hold(n: NodeState<Msg, Req, Res>, fn: () => void): void {
    if (n.held.length >= MAX_HELD_INPUTS) throw new Error(`World: node ${n.id} held inputs unbounded`);
    n.held.push(fn);
  }

  private deliverMessage(n: NodeState<Msg, Req, Res>, from: NodeId, message: Msg): void {
    if (!n.machine) return;
    if (n.paused) return this.hold(n, () => this.deliverMessage(n, from, message));
    const { now, wall } = n.clock.stamp(this.now());
    this.stepNode(n, { tag: 'Message', now, wall, from, message });
  }

  private deliverRequest(n: NodeState<Msg, Req, Res>, c: ClientConn<Res>, corr: number, request: Req): void {
    if (!n.machine || c.done || c.closedByNode) return;
    if (n.paused) return this.hold(n, () => this.deliverRequest(n, c, corr, request));
    const { now, wall } = n.clock.stamp(this.now());
    this.stepNode(n, { tag: 'ClientRequest', now, wall, conn: c.connId, corr, request });
  }

  private deliverClosed(n: NodeState<Msg, Req, Res>, life: number, conn: ConnId): void {
    if (!n.machine || n.life !== life) return;
    if (n.paused) return this.hold(n, () => this.deliverClosed(n, life, conn));
    const { now, wall } = n.clock.stamp(this.now());
    this.stepNode(n, { tag: 'ConnectionClosed', now, wall, conn });
  }

  private deliverTimer(n: NodeState<Msg, Req, Res>, life: number, timer: string): void {
    if (!n.machine || n.life !== life) return;
    if (n.paused) return this.hold(n, () => this.deliverTimer(n, life, timer));
    const { now, wall } = n.clock.stamp(this.now());
    this.stepNode(n, { tag: 'Timer', now, wall, timer });
  }

  private deliverDisk(n: NodeState<Msg, Req, Res>, life: number, id: DiskOpId, op: DiskOpKind, res: DiskExecResult): void {
    if (!n.machine || n.life !== life) return;
    if (n.paused) return this.hold(n, () => this.deliverDisk(n, life, id, op, res));
    const { now, wall } = n.clock.stamp(this.now());
    this.stepNode(n, res.ok ? { tag: 'DiskDone', now, wall, id, op, result: res.result } : { tag: 'DiskFailed', now, wall, id, op, error: res.error });
  }

  private stepNode(n: NodeState<Msg, Req, Res>, input: Input<Msg, Req>): void {
    const machine = n.machine;
    if (!machine) throw new Error(`World: step of crashed node ${n.id}`);
    if (n.stepping) throw new Error(`World: re-entrant step of node ${n.id} (WORLD-1)`);
    this.trace.input(this.now(), n.id, input as Input);
    n.stepping = true;
    let effects: Effect<Msg, Res>[];
    try {
      effects = machine.step(input);
    } finally {
      n.stepping = false;
    }
    this.steps++;
    if (!Array.isArray(effects)) throw new Error(`World: node ${n.id} step returned no effect array`);
    if (effects.length > MAX_EFFECTS_PER_STEP) throw new Error(`World: node ${n.id} emitted ${effects.length} effects`);
    const life = n.life;
    for (let i = 0; i < effects.length && n.life === life; i++) this.apply(n, effects[i]);
    for (let i = 0; i < this.hooks.length; i++) this.hooks[i](n.id, input, effects);
  }

  // -------------------------------------------------------------------------------------------
  // Effects

  private apply(n: NodeState<Msg, Req, Res>, e: Effect<Msg, Res>): void {
    switch (e.tag) {
      case 'Send':
        return this.applySend(n, e.to, e.message);
      case 'Reply':
        return this.applyReply(n, e.conn, e.corr, e.response);
      case 'Close':
        return this.applyClose(n, e.conn);
      case 'Disk':
        return this.applyDisk(n, e.id, e.op);
      case 'SetTimer':
        return this.applySetTimer(n, e.timer, e.afterMs);
      case 'CancelTimer': {
        const t = n.timers.get(e.timer);
        if (t) {
          this.scheduler.cancel(t.ev);
          n.timers.delete(e.timer);
        }
        return;
      }
      default:
        throw new Error(`World: node ${n.id} emitted unknown effect ${(e as { tag: string }).tag}`);
    }
  }

  private applySend(n: NodeState<Msg, Req, Res>, to: NodeId, message: Msg): void {
    if (!this.nodes.has(to)) throw new Error(`World: node ${n.id} sent to unknown node ${to}`);
    this.network.send(this.peerConn(n.id, to), n.id, message);
  }

  private peerConn(a: NodeId, b: NodeId): Connection {
    let m = this.peerConns.get(a);
    if (!m) {
      m = new Map();
      this.peerConns.set(a, m);
    }
    let c = m.get(b);
    if (!c || !c.open) {
      c = this.network.connect(a, b, PEER);
      m.set(b, c);
      let mb = this.peerConns.get(b);
      if (!mb) {
        mb = new Map();
        this.peerConns.set(b, mb);
      }
      mb.set(a, c);
    }
    return c;
  }

  private applyReply(n: NodeState<Msg, Req, Res>, conn: ConnId, corr: number, response: Res): void {
    const c = this.clientConns.get(conn);
    if (!c || c.done || c.node !== n.id) return; // the connection is gone: the reply is lost
    this.network.send(c.net, n.id, new PacketBox(corr, response, false));
  }

  /** A graceful close: replies already sent still arrive, then the client sees onClose. */
  private applyClose(n: NodeState<Msg, Req, Res>, conn: ConnId): void {
    const c = this.clientConns.get(conn);
    if (!c || c.done || c.node !== n.id || c.closedByNode) return;
    c.closedByNode = true;
    this.network.send(c.net, n.id, FIN);
  }

  private applyDisk(n: NodeState<Msg, Req, Res>, id: DiskOpId, op: DiskOp): void {
    if (n.diskQueue.length - n.diskHead >= MAX_DISK_QUEUE) throw new Error(`World: node ${n.id} disk queue unbounded`);
    n.diskQueue.push({ id, op });
    this.pumpDisk(n);
  }

  private pumpDisk(n: NodeState<Msg, Req, Res>): void {
    if (n.diskRunning !== undefined || n.diskHead >= n.diskQueue.length) return;
    const p = n.diskQueue[n.diskHead++];
    if (n.diskHead > 1024 && n.diskHead * 2 > n.diskQueue.length) {
      n.diskQueue = n.diskQueue.slice(n.diskHead);
      n.diskHead = 0;
    }
    const res = n.disk.execute(p.op);
    const latencyMs = n.disk.latencyMs(p.op);
    n.diskRunning = p.op;
    const life = n.life;
    this.scheduler.after(latencyMs, () => {
      if (n.life !== life) return; // crashed meanwhile (WORLD-3)
      n.diskRunning = undefined;
      this.deliverDisk(n, life, p.id, p.op.kind, res);
      if (n.life === life) this.pumpDisk(n);
    });
  }

  private applySetTimer(n: NodeState<Msg, Req, Res>, timer: string, afterMs: number): void {
    if (!(afterMs >= 0) || !Number.isFinite(afterMs)) throw new Error(`World: node ${n.id} timer ${timer} afterMs ${afterMs}`);
    const old = n.timers.get(timer);
    if (old) this.scheduler.cancel(old.ev);
    const g = this.now();
    const deadlineMono = n.clock.mono(g) + afterMs;
    const entry: TimerEntry = { ev: undefined as unknown as ScheduledEvent, deadlineMono };
    entry.ev = this.scheduler.at(n.clock.globalAt(deadlineMono, g), () => this.fireTimer(n, n.life, timer, entry));
    n.timers.set(timer, entry);
  }

  private fireTimer(n: NodeState<Msg, Req, Res>, life: number, timer: string, entry: TimerEntry): void {
    if (n.life !== life || n.timers.get(timer) !== entry) return;
    const g = this.now();
    if (n.clock.mono(g) < entry.deadlineMono) {
      // The drift slowed since arming: not yet due on this node's clock (WORLD-5).
      entry.ev = this.scheduler.at(n.clock.globalAt(entry.deadlineMono, g), () => this.fireTimer(n, life, timer, entry));
      return;
    }
    n.timers.delete(timer);
    this.deliverTimer(n, life, timer);
  }

  // -------------------------------------------------------------------------------------------
  // Network callbacks

  private onDeliver(c: Connection, from: Endpoint, to: Endpoint, m: unknown): void {
    if (c.tag === PEER) return this.deliverMessage(this.node(to), from, m as Msg);
    const cc = c.tag as ClientConn<Res>;
    const p = m as PacketBox;
    if (to === cc.node) {
      const n = this.node(to);
      if (p.fin) return this.finArrived(cc);
      return this.deliverRequest(n, cc, p.corr, p.body as Req);
    }
    if (cc.done) return;
    if (p.fin) return this.finArrived(cc);
    this.trace.reply(this.now(), cc.connId, p.corr, p.body);
    cc.handlers.onReply(p.corr, p.body as Res);
  }

  /** A FIN reached the other end: the connection is over for both; tell the receiver only. */
  private finArrived(cc: ClientConn<Res>): void {
    if (cc.done) return;
    cc.done = true;
    this.clientConns.delete(cc.connId);
    this.network.breakConn(cc.net, 'closed');
    this.trace.event(this.now(), 'fin', cc.connId, cc.closedByClient ? 0 : 1);
    if (cc.closedByClient) {
      const n = this.node(cc.node);
      this.deliverClosed(n, n.life, cc.connId);
    } else {
      cc.handlers.onClose();
    }
  }

  private onBroken(c: Connection, reason: BreakReason): void {
    if (c.tag === PEER) return;
    const cc = c.tag as ClientConn<Res>;
    if (cc.done) return; // the FIN already arrived: both ends know
    cc.done = true;
    this.clientConns.delete(cc.connId); // in-flight packets still reach cc through the conn tag
    this.trace.event(this.now(), `conn-broken:${reason}`, cc.connId);
    if (!cc.closedByClient) this.scheduler.after(0, () => cc.handlers.onClose());
    if (!cc.closedByNode) {
      const n = this.node(cc.node);
      const life = n.life;
      this.scheduler.after(0, () => this.deliverClosed(n, life, cc.connId));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Clients

  /** Opens a client connection to `node`. If the node is down or cut off, the connection breaks
   *  at once (handlers.onClose runs shortly after). */
  connect(node: NodeId, handlers: ClientHandlers<Res>): ConnId {
    const n = this.node(node);
    const connId = this.nextConnId++;
    const tag = {} as ClientConn<Res>;
    const net = this.network.connect(this.clientEndpoint, node, tag);
    const cc: ClientConn<Res> = Object.assign(tag, {
      kind: 'client' as const,
      connId,
      node,
      handlers,
      net,
      closedByClient: false,
      closedByNode: false,
      done: false,
    });
    this.clientConns.set(connId, cc);
    if (!n.machine) this.network.breakConn(net, 'endpoint');
    else if (this.network.isBlocked(this.clientEndpoint, node) || this.network.isBlocked(node, this.clientEndpoint)) {
      this.network.breakConn(net, 'partition');
    }
    return connId;
  }

  /** Sends a request; false if the connection is already known to be gone. */
  request(conn: ConnId, corr: number, request: Req): boolean {
    const c = this.clientConns.get(conn);
    if (!c || c.done || c.closedByClient) return false;
    return this.network.send(c.net, this.clientEndpoint, new PacketBox(corr, request, false));
  }

  /** The client closes: a FIN follows its requests in order; the node then sees ConnectionClosed. */
  disconnect(conn: ConnId): void {
    const c = this.clientConns.get(conn);
    if (!c || c.done || c.closedByClient) return;
    c.closedByClient = true;
    this.network.send(c.net, this.clientEndpoint, FIN);
  }

  isOpen(conn: ConnId): boolean {
    const c = this.clientConns.get(conn);
    return !!c && !c.done && !c.closedByClient;
  }
}
