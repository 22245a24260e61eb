// One controller server: a KRaft replica (core/raft) whose committed entries drive the metadata
// state machine (core/metadata), and the admin front door that turns client commands into
// proposals and answers reads. This is the Machine both drivers run.
//
// Invariants:
//  NODE-1 a write is acknowledged ok only when the entry carrying it (offset o, epoch e) has been
//         applied, i.e. committed: the raft HW counts only durable copies on a majority (RAFT-4),
//         so the ack never beats the fsyncs that make it durable (IO-1).
//  NODE-2 a write is answered with a definite failure only when it certainly never takes effect:
//         rejected before proposing, or its offset committed holding an entry of another epoch.
//         Otherwise (leadership lost with no verdict yet, a snapshot jumped past it) the answer is
//         REQUEST_TIMED_OUT: unknown outcome.
//  NODE-3 a new leader validates and proposes commands only after an entry of its own epoch has
//         committed and been applied (a read-index barrier), so every entry of earlier epochs that
//         will ever commit is already in the image it validates against.
//  NODE-4 reads are linearizable: answered from the applied image after raft's read index
//         confirmed leadership (RAFT-11).
//  NODE-5 a command answered without a proposal (rejected by validation, or nothing to change)
//         is a read of the speculative image, so its answer waits until every proposal that image
//         held has been applied in the same epoch and a read index confirmed leadership; a
//         leadership change turns it into NOT_CONTROLLER (it changed nothing).
// Bounds: pending client operations are capped (MAX_PENDING); beyond it the node answers
// THROTTLING_QUOTA_EXCEEDED-like busy errors instead of queueing.
import type { ConnId, Effect, Input, Machine, NodeId, Stamp } from './io.ts';
import { reply } from './io.ts';
import { makeRng, type Rng } from './rng.ts';
import { RaftReplica, type AppliedEntry, type RaftConfig, type StateMachine } from './raft/replica.ts';
import type { RaftMessage } from './raft/messages.ts';
import { ControllerState } from './metadata/controller-state.ts';
import { type ControllerCommand, type ControllerQuery, handleRead } from './metadata/controller.ts';
import { encodeRecords } from './metadata/records.ts';
import { MAX_PAYLOAD_BYTES } from './raft/codec.ts';
import { ErrorCode } from './errors.ts';
import { MetadataStateMachine } from './metadata/state-machine.ts';

export type ControllerRequest =
  | { readonly kind: 'write'; readonly command: ControllerCommand }
  | { readonly kind: 'read'; readonly query: ControllerQuery };

export type ControllerResponse =
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly errorCode: number; readonly message: string; readonly leaderId?: NodeId };

export type NodeEffect = Effect<RaftMessage, ControllerResponse>;

export interface ControllerNodeConfig {
  readonly raft: RaftConfig;
}

export const MAX_PENDING = 10_000;

interface Waiter {
  readonly conn: ConnId;
  readonly corr: number;
}

interface PendingWrite extends Waiter {
  readonly offset: number;
  readonly epoch: number;
  readonly result: unknown;
}

const assert: (cond: unknown, msg: string) => asserts cond = (cond, msg) => {
  if (!cond) throw new Error(`controller node: ${msg}`);
};

export class ControllerNode implements Machine<RaftMessage, ControllerRequest, ControllerResponse> {
  readonly raft: RaftReplica;
  readonly metadata = new MetadataStateMachine();
  readonly controller = new ControllerState();
  private rng: Rng = makeRng(0);
  private readonly diskIds = { n: 1, next(): number { return this.n++; } };
  private out: NodeEffect[] = [];
  private stamp: Stamp = { now: 0, wall: 0 };

  /** Epoch in which this node leads and its barrier read completed (NODE-3); -1 otherwise. */
  private writableEpoch = -1;
  private barrierToken = -1;
  private readonly queuedWrites: (Waiter & { readonly command: ControllerCommand })[] = [];
  private readonly writes = new Map<number, PendingWrite>(); // by offset
  private readonly reads = new Map<number, Waiter & { readonly query: ControllerQuery }>(); // by token
  /** NODE-5: answers to commands that proposed nothing, by read-index token. */
  private readonly deferred = new Map<number, Waiter & { readonly response: ControllerResponse; readonly afterOffset: number; readonly epoch: number; confirmed: boolean }>();
  private nextToken = 1;

  constructor(readonly cfg: ControllerNodeConfig) {
    const sm: StateMachine = {
      apply: (entry) => this.onApply(entry),
      snapshot: () => this.metadata.snapshot(),
      restore: (bytes, endOffset, epoch) => this.onRestore(bytes, endOffset, epoch),
      leadershipChanged: (leader, epoch, isSelf) => this.onLeadership(leader, epoch, isSelf),
      readReady: (token) => this.onReadReady(token),
      readFailed: (token) => this.onReadFailed(token),
    };
    this.raft = new RaftReplica(cfg.raft, sm, this.diskIds);
  }

  get nodeId(): NodeId {
    return this.cfg.raft.nodeId;
  }

  /** True when this node leads and accepts writes. */
  get writable(): boolean {
    return this.raft.role === 'leader' && this.writableEpoch === this.raft.epoch;
  }

  step(input: Input<RaftMessage, ControllerRequest>): NodeEffect[] {
    assert(this.out.length === 0, 're-entrant step');
    this.stamp = input; // every input is a Stamp; no copy per input
    switch (input.tag) {
      case 'Start':
        this.rng = makeRng((input.seed ^ 0x5bd1e995) >>> 0);
        this.emit(this.raft.step(input));
        break;
      case 'Message':
        this.emit(this.raft.step(input));
        break;
      case 'Timer':
        if (input.timer.startsWith('raft.')) this.emit(this.raft.step(input));
        break;
      case 'DiskDone':
      case 'DiskFailed':
        assert(this.raft.ownsDisk(input.id), `disk completion ${input.id} owned by nobody`);
        this.emit(this.raft.step(input));
        break;
      case 'ClientRequest':
        this.onClientRequest(input.conn, input.corr, input.request);
        break;
      case 'ConnectionClosed':
        this.forgetConnection(input.conn);
        break;
    }
    this.afterRaft();
    const out = this.out;
    this.out = [];
    return out;
  }

  /** Work that calls back into raft, deferred until raft's own step has returned. */
  private afterRaft(): void {
    this.answerPassedWrites();
    this.flushDeferred();
    if (this.raft.role !== 'leader') return;
    if (this.writableEpoch !== this.raft.epoch) return this.ensureBarrier();
    for (const q of this.queuedWrites.splice(0)) this.propose(q, q.command);
  }

  private emit(effects: readonly Effect<RaftMessage, never>[]): void {
    for (const e of effects) this.out.push(e);
  }

  private answer(w: Waiter, response: ControllerResponse): void {
    this.out.push(reply(w.conn, w.corr, response));
  }

  private notController(w: Waiter): void {
    const leaderId = this.raft.leaderId;
    this.answer(w, {
      ok: false,
      errorCode: ErrorCode.NOT_CONTROLLER,
      message: leaderId === undefined ? 'no known controller leader' : `controller leader is ${leaderId}`,
      ...(leaderId !== undefined && leaderId !== this.nodeId ? { leaderId } : {}),
    });
  }

  private pendingCount(): number {
    return this.writes.size + this.reads.size + this.queuedWrites.length + this.deferred.size;
  }

  // -------------------------------------------------------------------------------------------
  // Client requests

  private onClientRequest(conn: ConnId, corr: number, request: ControllerRequest): void {
    const w = { conn, corr };
    if (typeof request !== 'object' || request === null || (request.kind !== 'write' && request.kind !== 'read')) {
      return this.answer(w, { ok: false, errorCode: ErrorCode.INVALID_REQUEST, message: 'malformed controller request' });
    }
    // The command or query itself: an object with a string kind (unknown kinds answer
    // INVALID_REQUEST in the controller). A throw here, inside raft's readReady, once left the
    // replica mid-step and every later step failed as re-entrant (found in review).
    const body: unknown = request.kind === 'write' ? request.command : request.query;
    if (typeof body !== 'object' || body === null || typeof (body as { kind?: unknown }).kind !== 'string') {
      return this.answer(w, { ok: false, errorCode: ErrorCode.INVALID_REQUEST, message: `malformed controller ${request.kind === 'write' ? 'command' : 'query'}` });
    }
    if (this.raft.role !== 'leader') return this.notController(w);
    if (this.pendingCount() >= MAX_PENDING) {
      return this.answer(w, { ok: false, errorCode: ErrorCode.THROTTLING_QUOTA_EXCEEDED, message: 'controller busy' });
    }
    if (request.kind === 'read') return this.startRead(w, request.query);
    if (!this.writable) {
      this.queuedWrites.push({ ...w, command: request.command });
      return;
    }
    this.propose(w, request.command);
  }

  private startRead(w: Waiter, query: ControllerQuery): void {
    const token = this.nextToken++;
    this.reads.set(token, { ...w, query });
    this.emit(this.raft.readIndex(token, this.stamp));
  }

  private propose(w: Waiter, command: ControllerCommand): void {
    const handled = this.controller.handle(command, this.rng);
    if (!handled.ok) return this.deferAnswer(w, { ok: false, errorCode: handled.errorCode, message: handled.message });
    if (handled.records.length === 0) return this.deferAnswer(w, { ok: true, result: handled.result });
    if (!this.controller.canPropose) {
      return this.answer(w, { ok: false, errorCode: ErrorCode.THROTTLING_QUOTA_EXCEEDED, message: 'too many pending proposals' });
    }
    const payload = encodeRecords(handled.records);
    if (payload.length > MAX_PAYLOAD_BYTES) {
      // A committed entry recovery could not read back (found in review: 2,100 broker endpoints).
      return this.answer(w, { ok: false, errorCode: ErrorCode.INVALID_REQUEST, message: `command too large: ${payload.length} bytes of records, the limit is ${MAX_PAYLOAD_BYTES}` });
    }
    const proposed = this.raft.propose([payload], this.stamp);
    if (!proposed.ok) return this.notController(w);
    this.emit(proposed.effects);
    const offset = proposed.offsets[0];
    this.controller.onProposed(offset, proposed.epoch, handled.records);
    // NODE-2: a waiter still at this offset proposed there in an earlier epoch of ours; its entry
    // was truncated (this log ends here), so it can never take effect (found in review: it was
    // overwritten, never answered).
    const earlier = this.writes.get(offset);
    if (earlier !== undefined) this.notController(earlier);
    this.writes.set(offset, { ...w, offset, epoch: proposed.epoch, result: handled.result });
  }

  /**
   * NODE-1/2 for waiters `onApply` will never see (found in review: they were never answered):
   * one whose offset was applied without it (a new leader's control entry took the offset, or a
   * snapshot install jumped past it) gets REQUEST_TIMED_OUT, outcome unknown; one whose entry left
   * the log, or was replaced by another epoch's, gets NOT_CONTROLLER: it can never take effect
   * (a waiter exists only once its entry was in this log, and a committed entry never leaves).
   */
  private answerPassedWrites(): void {
    if (this.writes.size === 0) return;
    const applied = this.raft.appliedOffset;
    for (const [offset, w] of this.writes) {
      if (offset < applied) {
        this.writes.delete(offset);
        this.answer(w, { ok: false, errorCode: ErrorCode.REQUEST_TIMED_OUT, message: `the entry at ${offset} was applied without this proposal` });
        continue;
      }
      const e = this.raft.entryAt(offset);
      if (e === undefined || e.epoch !== w.epoch) {
        this.writes.delete(offset);
        this.notController(w);
      }
    }
  }

  /** NODE-5: answer once the speculative state this answer read is committed and we still lead. */
  private deferAnswer(w: Waiter, response: ControllerResponse): void {
    const pending = this.controller.pending;
    const afterOffset = pending.length > 0 ? pending[pending.length - 1].offset : -1;
    const token = this.nextToken++;
    this.deferred.set(token, { ...w, response, afterOffset, epoch: this.raft.epoch, confirmed: false });
    this.emit(this.raft.readIndex(token, this.stamp));
  }

  private flushDeferred(): void {
    if (this.deferred.size === 0) return;
    const leading = this.raft.role === 'leader';
    for (const [token, d] of this.deferred) {
      if (!leading || d.epoch !== this.raft.epoch) {
        this.deferred.delete(token);
        this.notController(d);
      } else if (d.confirmed && this.raft.appliedOffset > d.afterOffset) {
        this.deferred.delete(token);
        this.answer(d, d.response);
      }
    }
  }

  /** NODE-3: the first read index of an epoch doubles as the write barrier. */
  private ensureBarrier(): void {
    if (this.barrierToken !== -1) return;
    this.barrierToken = this.nextToken++;
    this.emit(this.raft.readIndex(this.barrierToken, this.stamp));
  }

  private forgetConnection(conn: ConnId): void {
    for (const [k, w] of this.writes) if (w.conn === conn) this.writes.delete(k);
    for (const [k, r] of this.reads) if (r.conn === conn) this.reads.delete(k);
    for (const [k, d] of this.deferred) if (d.conn === conn) this.deferred.delete(k);
    for (let i = this.queuedWrites.length - 1; i >= 0; i--) if (this.queuedWrites[i].conn === conn) this.queuedWrites.splice(i, 1);
  }

  // -------------------------------------------------------------------------------------------
  // Raft callbacks (called synchronously inside raft.step / propose / readIndex)

  private onApply(entry: AppliedEntry): void {
    this.metadata.apply(entry);
    this.controller.onCommitted(this.metadata.image);
    const w = this.writes.get(entry.offset);
    if (w === undefined) return;
    this.writes.delete(entry.offset);
    if (w.epoch === entry.epoch) this.answer(w, { ok: true, result: w.result });
    else this.answer(w, { ok: false, errorCode: ErrorCode.NOT_CONTROLLER, message: `proposal at ${entry.offset} was superseded in epoch ${entry.epoch}` });
  }

  private onRestore(bytes: Uint8Array, endOffset: number, epoch: number): void {
    this.metadata.restore(bytes, endOffset, epoch);
    this.controller.onLeadershipLost();
    this.controller.onCommitted(this.metadata.image);
    // Writes the snapshot jumped past have an unknown fate from here (NODE-2).
    for (const [offset, w] of this.writes) {
      if (offset >= endOffset) continue;
      this.writes.delete(offset);
      this.answer(w, { ok: false, errorCode: ErrorCode.REQUEST_TIMED_OUT, message: 'outcome unknown: replaced by a snapshot' });
    }
  }

  private onLeadership(_leader: NodeId | undefined, _epoch: number, isSelf: boolean): void {
    // Pending writes stay: their offsets will commit with our entry or another epoch's (NODE-2).
    this.controller.onLeadershipLost();
    this.writableEpoch = -1;
    this.barrierToken = -1;
    if (!isSelf) {
      for (const q of this.queuedWrites.splice(0)) this.notController(q);
    }
  }

  private onReadReady(token: number): void {
    if (token === this.barrierToken) {
      this.barrierToken = -1;
      if (this.raft.role === 'leader') this.writableEpoch = this.raft.epoch; // queued writes go in afterRaft
      return;
    }
    const d = this.deferred.get(token);
    if (d !== undefined) {
      d.confirmed = true; // answered in flushDeferred once its afterOffset is applied
      return;
    }
    const r = this.reads.get(token);
    if (r === undefined) return;
    this.reads.delete(token);
    const result = handleRead(this.metadata.image, r.query);
    this.answer(r, result.ok ? { ok: true, result: result.result } : { ok: false, errorCode: result.errorCode, message: result.message });
  }

  private onReadFailed(token: number): void {
    if (token === this.barrierToken) {
      this.barrierToken = -1;
      for (const q of this.queuedWrites.splice(0)) this.notController(q);
      return;
    }
    const d = this.deferred.get(token);
    if (d !== undefined) {
      this.deferred.delete(token);
      return this.notController(d);
    }
    const r = this.reads.get(token);
    if (r === undefined) return;
    this.reads.delete(token);
    this.notController(r);
  }
}
