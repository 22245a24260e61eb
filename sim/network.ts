// The simulated network: TCP-like connections between endpoints (nodes and clients), latency,
// bandwidth, connection resets and partitions. Delivery is an event on the shared Scheduler.
//
// Invariants:
//  NET-1  Per connection and direction, messages arrive in the order sent (FIFO): an arrival
//         time is never earlier than the previous arrival in that direction.
//  NET-2  Messages are lost only when their connection breaks (reset, partition, endpoint
//         crash); a broken connection never delivers again (a new connection must be made).
//  NET-3  While from->to is blocked by a partition, nothing is delivered from->to: installing a
//         partition breaks every open connection across it (either way), and a send from->to
//         breaks its connection at once (the message is lost, not delayed).
//  NET-4  All randomness comes from the SimRng given (NET is deterministic by seed).
//
// Faults: latency spikes, slow links (extra latency per pair), limited bandwidth, resets,
// partitions (symmetric, one-way, isolation, majority/minority, bridge) and heal.

import type { Scheduler } from './scheduler.ts';
import type { SimRng } from './rng.ts';

export type Endpoint = number;

export interface NetworkConfig {
  /** Per-message latency, uniform. Default { min: 0.2, max: 2 }. */
  latencyMs?: { min: number; max: number };
  /** Per connection and direction; undefined = unlimited. Sizes come from sizeOf. */
  bandwidthBytesPerMs?: number;
  /** Per message: the connection resets (this message and everything in flight are lost). */
  resetRate?: number;
  /** Per message: add spikeMs of latency (FIFO still holds, so later messages queue behind). */
  spikeRate?: number;
  spikeMs?: number;
}

export interface Connection {
  readonly id: number;
  readonly a: Endpoint;
  readonly b: Endpoint;
  open: boolean;
  /** Opaque owner data (the World keeps the ConnId or peer pair here). */
  readonly tag: unknown;
  lastArrivalAB: number;
  lastArrivalBA: number;
  busyUntilAB: number;
  busyUntilBA: number;
  inFlight: number;
}

export interface NetworkHandlers<M> {
  /** A message arrives at `to`. Called from a scheduler event. */
  deliver(conn: Connection, from: Endpoint, to: Endpoint, message: M): void;
  /** `conn` just broke (reset, partition, crash). Called synchronously, possibly during a send
   *  made from inside a node step: handlers should schedule, not step nodes. */
  broken(conn: Connection, reason: BreakReason): void;
}

export type BreakReason = 'reset' | 'partition' | 'endpoint' | 'closed';

const MAX_IN_FLIGHT_PER_CONN = 1_000_000;
const DEFAULT_LATENCY_MS: NonNullable<NetworkConfig['latencyMs']> = { min: 0.2, max: 2 };

export class SimNetwork<M> {
  private readonly rng: SimRng;
  private readonly sched: Scheduler;
  private readonly handlers: NetworkHandlers<M>;
  private readonly sizeOf: (m: M) => number;
  private config: NetworkConfig;
  private nextConnId = 1;
  private readonly byEndpoint = new Map<Endpoint, Set<Connection>>();
  /** blocked.get(from)?.has(to): from -> to is cut. */
  private blocked = new Map<Endpoint, Set<Endpoint>>();
  private blockedCount = 0;
  private readonly linkDelayMs = new Map<Endpoint, Map<Endpoint, number>>();
  private stats = { sent: 0, delivered: 0, lost: 0, breaks: 0 };

  constructor(opts: {
    rng: SimRng;
    scheduler: Scheduler;
    handlers: NetworkHandlers<M>;
    config?: NetworkConfig;
    sizeOf?: (m: M) => number;
  }) {
    this.rng = opts.rng;
    this.sched = opts.scheduler;
    this.handlers = opts.handlers;
    this.config = { ...(opts.config ?? {}) };
    this.sizeOf = opts.sizeOf ?? (() => 0);
  }

  setConfig(c: NetworkConfig): void {
    this.config = { ...c };
  }

  getConfig(): NetworkConfig {
    return { ...this.config };
  }

  counters(): { sent: number; delivered: number; lost: number; breaks: number } {
    return { ...this.stats };
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  connect(a: Endpoint, b: Endpoint, tag?: unknown): Connection {
    const conn: Connection = {
      id: this.nextConnId++,
      a,
      b,
      open: true,
      tag,
      lastArrivalAB: 0,
      lastArrivalBA: 0,
      busyUntilAB: 0,
      busyUntilBA: 0,
      inFlight: 0,
    };
    this.index(a).add(conn);
    this.index(b).add(conn);
    return conn;
  }

  private index(e: Endpoint): Set<Connection> {
    let s = this.byEndpoint.get(e);
    if (!s) {
      s = new Set();
      this.byEndpoint.set(e, s);
    }
    return s;
  }

  /** Sends `message` from one end of `conn`. False if it is lost (conn broken, now or before). */
  send(conn: Connection, from: Endpoint, message: M): boolean {
    if (from !== conn.a && from !== conn.b) throw new Error(`SimNetwork.send: ${from} is not an end of conn ${conn.id}`);
    this.stats.sent++;
    if (!conn.open) return this.lose();
    const to = from === conn.a ? conn.b : conn.a;
    if (this.blockedCount > 0 && this.isBlocked(from, to)) {
      this.breakConn(conn, 'partition');
      return this.lose();
    }
    if (this.config.resetRate && this.rng.chance(this.config.resetRate)) {
      this.breakConn(conn, 'reset');
      return this.lose();
    }
    if (conn.inFlight >= MAX_IN_FLIGHT_PER_CONN) throw new Error(`SimNetwork: conn ${conn.id} queue unbounded`);
    const arrival = this.arrivalTime(conn, from === conn.a, message, from, to);
    conn.inFlight++;
    this.sched.at(arrival, () => {
      conn.inFlight--;
      if (!conn.open) return void this.stats.lost++;
      this.stats.delivered++;
      this.handlers.deliver(conn, from, to, message);
    });
    return true;
  }

  private lose(): false {
    this.stats.lost++;
    return false;
  }

  private arrivalTime(conn: Connection, ab: boolean, message: M, from: Endpoint, to: Endpoint): number {
    const now = this.sched.now();
    const lat = this.config.latencyMs ?? DEFAULT_LATENCY_MS;
    let ms = lat.min + this.rng.float() * (lat.max - lat.min);
    if (this.config.spikeRate && this.rng.chance(this.config.spikeRate)) ms += this.config.spikeMs ?? 100;
    if (this.linkDelayMs.size > 0) ms += this.linkDelayMs.get(from)?.get(to) ?? 0;
    let sentAt = now;
    const bw = this.config.bandwidthBytesPerMs;
    if (bw && bw > 0) {
      const start = Math.max(now, ab ? conn.busyUntilAB : conn.busyUntilBA);
      sentAt = start + this.sizeOf(message) / bw;
      if (ab) conn.busyUntilAB = sentAt;
      else conn.busyUntilBA = sentAt;
    }
    // NET-1: never overtake an earlier message in this direction.
    const arrival = Math.max(sentAt + ms, ab ? conn.lastArrivalAB : conn.lastArrivalBA);
    if (ab) conn.lastArrivalAB = arrival;
    else conn.lastArrivalBA = arrival;
    return arrival;
  }

  /** Breaks `conn`: in-flight messages are lost, both ends are told via handlers.broken. */
  breakConn(conn: Connection, reason: BreakReason): void {
    if (!conn.open) return;
    conn.open = false;
    this.stats.breaks++;
    this.byEndpoint.get(conn.a)?.delete(conn);
    this.byEndpoint.get(conn.b)?.delete(conn);
    this.handlers.broken(conn, reason);
  }

  /** Breaks every connection of an endpoint (its process crashed). */
  breakEndpoint(e: Endpoint): void {
    const conns = this.byEndpoint.get(e);
    if (!conns) return;
    for (const c of [...conns].sort((x, y) => x.id - y.id)) this.breakConn(c, 'endpoint');
  }

  openConnections(): Connection[] {
    const all = new Set<Connection>();
    for (const s of this.byEndpoint.values()) for (const c of s) all.add(c);
    return [...all].sort((x, y) => x.id - y.id);
  }

  // -------------------------------------------------------------------------------------------
  // Partitions

  isBlocked(from: Endpoint, to: Endpoint): boolean {
    if (this.blockedCount === 0) return false;
    return this.blocked.get(from)?.has(to) ?? false;
  }

  /** Whether any partition is in force. */
  partitioned(): boolean {
    return this.blockedCount > 0;
  }

  /** Cuts from -> to for every pair (self-pairs ignored), then breaks connections across cuts. */
  block(froms: readonly Endpoint[], tos: readonly Endpoint[]): void {
    for (const f of froms) {
      for (const t of tos) {
        if (f === t) continue;
        let s = this.blocked.get(f);
        if (!s) {
          s = new Set();
          this.blocked.set(f, s);
        }
        if (!s.has(t)) {
          s.add(t);
          this.blockedCount++;
        }
      }
    }
    for (const c of this.openConnections()) {
      if (this.isBlocked(c.a, c.b) || this.isBlocked(c.b, c.a)) this.breakConn(c, 'partition');
    }
  }

  /** Symmetric: endpoints in different groups cannot talk. Endpoints in no group are unaffected. */
  partition(groups: readonly (readonly Endpoint[])[]): void {
    for (let i = 0; i < groups.length; i++) {
      for (let j = 0; j < groups.length; j++) if (i !== j) this.block(groups[i], groups[j]);
    }
  }

  /** One-way: a message from a `froms` endpoint to a `tos` endpoint is lost and breaks its
   *  connection; messages the other way still flow (on connections that carry none the cut way). */
  oneWay(froms: readonly Endpoint[], tos: readonly Endpoint[]): void {
    this.block(froms, tos);
  }

  /** Cuts `node` off from every other endpoint in `all`. */
  isolate(node: Endpoint, all: readonly Endpoint[]): void {
    this.partition([[node], all.filter((e) => e !== node)]);
  }

  /** Two halves that only `bridge` connects: left <-> right cut, bridge talks to both. */
  bridge(left: readonly Endpoint[], right: readonly Endpoint[], bridgeNode: Endpoint): void {
    const l = left.filter((e) => e !== bridgeNode);
    const r = right.filter((e) => e !== bridgeNode);
    this.partition([l, r]);
  }

  /** Ends every partition. Connections broken stay broken; new ones form. */
  heal(): void {
    this.blocked = new Map();
    this.blockedCount = 0;
  }

  /** Ends every slow link. */
  clearLinkDelays(): void {
    this.linkDelayMs.clear();
  }

  /** A slow link: extra latency from a to b and b to a. */
  setLinkDelay(a: Endpoint, b: Endpoint, extraMs: number): void {
    if (!(extraMs >= 0)) throw new Error('SimNetwork.setLinkDelay: negative delay');
    for (const [x, y] of [
      [a, b],
      [b, a],
    ]) {
      let m = this.linkDelayMs.get(x);
      if (!m) {
        m = new Map();
        this.linkDelayMs.set(x, m);
      }
      m.set(y, extraMs);
    }
  }
}
