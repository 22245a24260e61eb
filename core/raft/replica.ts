// One member of the controller quorum: a KIP-595 (KRaft) Raft replica as a pure state machine,
// with KIP-996 pre-vote and KIP-630 snapshots. Pull-based: followers Fetch from the leader, and
// their fetchOffset is their acknowledgement. Shape follows etcd raft: `step` handles what every
// role shares, then the role's handler; only `becomeX` changes role. Pure pieces live beside it:
// leader.ts (fetch validation, majority durable end), follower.ts (which records extend the log),
// election.ts (log up-to-date check), read-index.ts (RAFT-11), vote-floor.ts (RAFT-13).
//
// Invariants (cited by proofs-notes and the checkers; see also log-store.ts RAFT-6a..RAFT-9):
//  RAFT-1 election safety: at most one leader per epoch. A vote is granted at most once per
//         epoch (votedFor persisted before the grant is sent, RAFT-5) and a leader needs a
//         majority of voters.
//  RAFT-2 log matching: a follower appends only after the leader validated (fetchOffset,
//         lastFetchedEpoch) against its own log; otherwise it gets divergingEpoch and truncates.
//  RAFT-3 leader completeness: a vote is granted only to a candidate whose log is at least as
//         up-to-date (last epoch, then end offset) - `candidateLogIsUpToDate`; a replica never
//         truncates at or below its high watermark (asserted).
//  RAFT-4 the leader's HW is the largest offset that a majority holds DURABLY (its own durable end
//         plus followers' fetchOffsets) and whose entry has the leader's epoch - decided in
//         `isCommittableEntryEpoch`; each leader first appends a LeaderChange control entry.
//         The HW never decreases within an incarnation.
//  RAFT-5 quorum state (epoch, votedFor, leaderId) is fsynced (atomic replace) before a vote
//         is granted or any message of a new epoch is sent: such Sends are held until then.
//  RAFT-6 a follower's Fetch acknowledges only durable data: it fetches again only after the
//         sync of what it appended completed, with fetchOffset = durable end -
//         `followerAckOffset`.
//  RAFT-10 disruptive-candidate protection: a voter that heard from a live leader within
//         fetchTimeoutMs (or is the leader) rejects pre-votes, so a node that lost touch (e.g.
//         partitioned) cannot start an election the others do not need; only a candidate that
//         won a pre-vote majority bumps epochs.
//  RAFT-11 linearizable reads: readReady(token) only after a majority fetched in this epoch on a
//         round trip that began after the call, and applied >= max(HW at call, epoch start + 1).
//         Round trips are matched exactly, even with retried or duplicated Fetches: the leader
//         numbers its responses per follower (FetchResponse.sessionId) and the follower echoes
//         the highest number it received (FetchRequest.sessionEpoch); a Fetch confirms read k
//         only if it echoes a response sent after read k began (read-index.ts).
//  RAFT-13 a voter that lost its quorum state (and so any vote it cast) grants no (pre-)vote
//         and does not campaign until every other voter reported its epoch to this incarnation;
//         then it votes only in epochs above the highest reported (see the section below).
//  RAFT-12 applied entries are exactly the committed prefix, applied in order, once per
//         incarnation (after a restore, from the snapshot's end).
//  RAFT-15 a follower acts only on the answer to its one Fetch or FetchSnapshot in flight to the
//         leader (as Kafka's RequestManager does): each request gets a fresh correlationId (the
//         next in a sequence starting at a random point per incarnation, from Start's seed; a
//         retry gets a new one, `awaitResponse`), the leader echoes it, and any other answer - a duplicate, the original's late answer after a retry, one to
//         a Fetch sent before a truncation - is ignored (it only counts as news of the leader:
//         contact time and the RAFT-11 echo). So a divergingEpoch or snapshotId is applied to
//         the log it was computed for, never to one that has since acknowledged newer entries the
//         leader may have committed (before: a duplicated DivergingEpoch reply truncated such a
//         committed entry; found in review). Ignoring does not wedge the follower: the request's
//         retry timer stays armed and sends it again (a snapshot chunk request too). Enforced by
//         replica.test.ts "RAFT-15: ..." (the duplicated divergence reply lost a committed entry
//         before) and random.test.ts's duplicated-messages run (harness RAFT-2/3 checks and the
//         RAFT-3 truncation assertion below; its seed 2056 failed before).
// Faults survived: message loss, reorder across connections, duplicated and late messages
// (RAFT-15), retried Fetches, partitions, crashes with torn/lost unsynced writes, bit-rot
// (log-store.ts), hostile messages (typed errors).
// A DiskFailed on a write/sync/rename is fail-stop: role 'failed', no further effects; the
// driver restarts the process, and recovery decides what is durable.
// Known limits: an answer to a request of an earlier incarnation of this replica is told apart
// only by its correlationId, whose sequence starts at a random point per incarnation: it is
// acted on by a 1-in-2^31 coincidence. TCP never delivers one (a connection per incarnation), but
// the simulator can (a Fetch parked at the leader is answered on a new connection) and so can the
// raft harness (late duplicates of a dead incarnation's requests); until review in the seventh
// session ids restarted at 1 and the harness lost a committed entry that way. Vote,
// BeginQuorumEpoch and EndQuorumEpoch messages are not matched to requests: they carry epoch facts that stay true (a vote granted in
// an epoch stays granted; one leader per epoch), so a duplicate is safe; a late pre-vote grant
// from an earlier round in the same epoch can still count toward a pre-vote majority (that only
// weakens RAFT-10, a liveness aid). Nor are Fetches at the leader: a follower's fetchOffset was
// durable when sent, and the ack only grows (`ackOffset` is a max). The simulator's network
// never duplicates (NET-1); the raft harness does (`dupRate`, random.test.ts).
// Voter-set changes (KIP-853) are not implemented: `voters` is static.
import type { Effect, Input, NodeId, Stamp } from '../io.ts';
import { cancelTimer, send, setTimer } from '../io.ts';
import type { Rng } from '../rng.ts';
import { makeRng, nextInt } from '../rng.ts';
import { LogStore } from './log-store.ts';
import type { StoreEvent } from './log-store.ts';
import type {
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  FetchSnapshotResponse,
  LeaderIdAndEpoch,
  RaftMessage,
  RaftRecord,
  SnapshotId,
  VoteRequest,
  VoteResponse,
} from './messages.ts';
import { invalidRaftMessage } from './messages.ts';
import { ErrorCode, type ErrorCodeValue } from '../errors.ts';
import { VOTE_FLOOR_PENDING, VOTE_UNKNOWN } from './codec.ts';
import { ReadIndex } from './read-index.ts';
import { VoteFloor } from './vote-floor.ts';
import { majorityDurableEnd, validateFetch } from './leader.ts';
import { freshRecords } from './follower.ts';
import { candidateLogIsUpToDate } from './election.ts';
import { concatBytes } from '../bytes.ts';

export interface RaftConfig {
  nodeId: NodeId;
  voters: readonly NodeId[];
  dir: string;
  electionTimeoutMs: number;
  fetchTimeoutMs: number;
  fetchMaxWaitMs: number;
  snapshotEveryEntries: number;
  maxFetchEntries: number;
  snapshotChunkBytes: number;
  /** Segment roll size; defaults to 1 MiB. */
  segmentMaxBytes?: number;
}

/** A committed entry handed to the state machine. */
export interface AppliedEntry {
  readonly offset: number;
  readonly epoch: number;
  readonly payload: Uint8Array;
}

export interface StateMachine {
  apply(entry: AppliedEntry): void;
  /** State at the last applied entry. */
  snapshot(): Uint8Array;
  restore(bytes: Uint8Array, endOffset: number, epoch: number): void;
  leadershipChanged?(leader: NodeId | undefined, epoch: number, isSelf: boolean): void;
  readReady?(token: number): void;
  readFailed?(token: number): void;
}

export type Role = 'recovering' | 'unattached' | 'prospective' | 'candidate' | 'leader' | 'follower' | 'failed';

type Out = Effect<RaftMessage, never>;

const T_ELECTION = 'raft.election';
const T_FETCH_TIMEOUT = 'raft.fetchTimeout';
const T_FETCH_RETRY = 'raft.fetchRetry';
const T_CHECK_QUORUM = 'raft.checkQuorum';
const T_LONG_POLL = 'raft.longPoll';
const T_VOTE_PROBE = 'raft.voteProbe';

const MAX_HELD_SENDS = 10_000;
const MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024;

interface FollowerProgress {
  /** Durable end offset the follower reported in its last valid Fetch of this epoch. */
  ackOffset: number;
  lastFetchMs: number;
  fetchedThisEpoch: boolean;
}

interface SnapshotDownload {
  readonly id: SnapshotId;
  readonly leaderId: NodeId;
  size: number;
  position: number;
  chunks: Uint8Array[];
}

/** The sender's epoch, from a response (an answer to a request this incarnation sent). */
const reportedEpoch = (m: RaftMessage): number | undefined => {
  switch (m.type) {
    case 'FetchResponse':
    case 'FetchSnapshotResponse':
      return m.currentLeader.leaderEpoch;
    case 'VoteResponse':
    case 'BeginQuorumEpochResponse':
    case 'EndQuorumEpochResponse':
      return m.leaderEpoch;
    default:
      return undefined;
  }
};

const sameSnapshot = (a: SnapshotId, b: SnapshotId): boolean => a.endOffset === b.endOffset && a.epoch === b.epoch;

const controlPayload = (leaderId: NodeId, epoch: number): Uint8Array => {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setInt32(0, leaderId);
  v.setInt32(4, epoch);
  return b;
};

export class RaftReplica {
  private readonly store: LogStore;
  private readonly majority: number;
  /** The voters other than this node. */
  private readonly peers: readonly NodeId[];
  private rng: Rng = makeRng(0);
  private now = 0;
  private out: Out[] = [];

  // Quorum and progress state; read from outside through the getters below only.
  private sRole: Role = 'recovering';
  private sEpoch = 0;
  private sVotedFor: NodeId | undefined = undefined;
  private sLeaderId: NodeId | undefined = undefined;
  private sHighWatermark = 0;
  private sAppliedOffset = 0;

  // persistence gating (RAFT-5)
  private quorumSeqIssued = 0;
  private quorumSeqDurable = 0;
  private held: { seq: number; effect: Out }[] = [];
  // RAFT-13: after a lost quorum state, no vote until every other voter reported its epoch
  private readonly voteFloor: VoteFloor;

  // elections
  private grants = new Set<NodeId>();
  // follower
  private lastLeaderContactMs = -Infinity;
  private fetchInFlight = false;
  /** RAFT-15: the correlationId of the one Fetch or FetchSnapshot in flight to the leader, whose
   *  answer is the only one acted on (undefined: none is awaited). */
  private awaitedCorrelationId: number | undefined = undefined;
  /** RAFT-15: the last correlationId this incarnation numbered a request with (from a random
   *  start per incarnation, then 1 up, wrapping within int32's positive range). */
  private lastCorrelationId = 0;
  /** RAFT-11: highest FetchResponse.sessionId received from the current leader in this epoch. */
  private lastResponseNo = 0;
  private download: SnapshotDownload | undefined = undefined;
  private discoverIndex = 0;
  // leader
  private progress = new Map<NodeId, FollowerProgress>();
  private parked = new Map<NodeId, { req: FetchRequest; deadlineMs: number }>();
  private epochStartOffset = 0;
  private readonly reads: ReadIndex;
  // snapshots
  private snapshotWrite: { id: SnapshotId; data: Uint8Array; install: boolean } | undefined = undefined;

  constructor(
    readonly cfg: RaftConfig,
    private readonly sm: StateMachine,
    diskIds: { next(): number },
  ) {
    if (cfg.voters.length === 0) throw new Error('RaftConfig: no voters');
    if (new Set(cfg.voters).size !== cfg.voters.length) throw new Error('RaftConfig: duplicate voters');
    if (!(cfg.electionTimeoutMs > 0 && cfg.fetchTimeoutMs > 0 && cfg.maxFetchEntries > 0 && cfg.snapshotChunkBytes > 0)) {
      throw new Error('RaftConfig: timeouts and sizes must be positive');
    }
    this.majority = Math.floor(cfg.voters.length / 2) + 1;
    this.peers = cfg.voters.filter((v) => v !== cfg.nodeId);
    this.reads = new ReadIndex(this.majority);
    this.voteFloor = new VoteFloor(this.peers);
    this.store = new LogStore(cfg.dir, diskIds, cfg.segmentMaxBytes ?? 1024 * 1024);
  }

  // -------------------------------------------------------------------------------------------
  // Inspection (read-only, for checkers and tests)

  get role(): Role {
    return this.sRole;
  }
  get epoch(): number {
    return this.sEpoch;
  }
  get votedFor(): NodeId | undefined {
    return this.sVotedFor;
  }
  get leaderId(): NodeId | undefined {
    return this.sLeaderId;
  }
  get highWatermark(): number {
    return this.sHighWatermark;
  }
  /** One past the last entry applied to the state machine. */
  get appliedOffset(): number {
    return this.sAppliedOffset;
  }
  get logEndOffset(): number {
    return this.store.logEndOffset;
  }
  get durableEndOffset(): number {
    return this.store.durableEndOffset;
  }
  get logStartOffset(): number {
    return this.store.logStartOffset;
  }
  get repairTargetOffset(): number {
    return this.store.repairTargetOffset;
  }
  get recoveryReport(): LogStore['recovery'] {
    return this.store.recovery;
  }
  get failure(): string | undefined {
    return this.store.failed;
  }
  /** The stored record itself (read-only), not a copy. */
  entryAt(offset: number): RaftRecord | undefined {
    return this.store.entryAt(offset);
  }
  ownsDisk(id: number): boolean {
    return this.store.owns(id);
  }

  // -------------------------------------------------------------------------------------------
  // Entry points

  step(input: Input<RaftMessage>): Out[] {
    this.begin(input);
    if (this.sRole === 'failed' && input.tag !== 'DiskDone' && input.tag !== 'DiskFailed') return this.finish();
    switch (input.tag) {
      case 'Start':
        this.rng = makeRng(input.seed);
        // RAFT-15: this incarnation's correlationIds start at a point of their own (from a stream
        // apart from the election jitter's), so an answer meant for an earlier incarnation's
        // request matches the one awaited only by a 1-in-2^31 coincidence.
        this.lastCorrelationId = nextInt(makeRng(input.seed ^ 0x2545f491), 0, 0x7fff_ffff);
        this.sRole = 'recovering';
        this.out.push(...this.store.startRecovery());
        break;
      case 'DiskDone':
        this.onStoreEvents(this.store.onDone(input.id, input.result));
        break;
      case 'DiskFailed':
        this.onStoreEvents(this.store.onFailed(input.id, input.op, input.error));
        break;
      case 'Timer':
        if (this.sRole !== 'recovering') this.onTimer(input.timer);
        break;
      case 'Message':
        if (this.sRole !== 'recovering') this.onMessage(input.from, input.message);
        break;
      default:
        break;
    }
    return this.finish();
  }

  propose(
    payloads: Uint8Array[],
    stamp: Stamp,
  ): { ok: true; offsets: number[]; epoch: number; effects: Out[] } | { ok: false; error: 'NOT_LEADER'; leaderId?: NodeId; effects: [] } {
    if (this.sRole !== 'leader') {
      return this.sLeaderId === undefined ? { ok: false, error: 'NOT_LEADER', effects: [] } : { ok: false, error: 'NOT_LEADER', leaderId: this.sLeaderId, effects: [] };
    }
    this.begin(stamp);
    const start = this.store.logEndOffset;
    const records = payloads.map((payload, i) => ({ offset: start + i, epoch: this.sEpoch, control: false, payload }));
    this.out.push(...this.store.append(records));
    this.answerParkedFetches(() => true);
    return { ok: true, offsets: records.map((r) => r.offset), epoch: this.sEpoch, effects: this.finish() };
  }

  /** Graceful resignation (e.g. before shutdown): EndQuorumEpoch to the voters, then step down. */
  resignLeadership(stamp: Stamp): Out[] {
    this.begin(stamp);
    if (this.sRole === 'leader') this.resign();
    return this.finish();
  }

  readIndex(token: number, stamp: Stamp): Out[] {
    this.begin(stamp);
    if (this.sRole !== 'leader' || !this.reads.begin(token, Math.max(this.sHighWatermark, this.epochStartOffset + 1))) {
      this.sm.readFailed?.(token);
      return this.finish();
    }
    // Answer parked fetches now so followers come straight back: their next Fetch confirms us.
    this.answerParkedFetches(() => true);
    return this.finish();
  }

  private begin(stamp: Stamp): void {
    if (this.out.length !== 0) throw new Error('RaftReplica: re-entrant step');
    if (stamp.now < this.now) throw new Error(`RaftReplica: monotonic clock went back ${this.now} -> ${stamp.now}`);
    this.now = stamp.now;
  }

  private finish(): Out[] {
    if (this.sRole !== 'recovering' && this.sRole !== 'failed') {
      this.maybeApply();
      this.maybeSnapshot();
      this.checkReads();
    }
    this.assertInvariants();
    const out = this.out;
    this.out = [];
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Sending, held back until the quorum state is durable (RAFT-5)

  private sendMsg(to: NodeId, message: RaftMessage): void {
    if (to === this.cfg.nodeId) throw new Error('sendMsg: to self');
    const effect = send(to, message);
    if (this.quorumSeqDurable < this.quorumSeqIssued) {
      if (this.held.length >= MAX_HELD_SENDS) return; // drop: the peer will retry
      this.held.push({ seq: this.quorumSeqIssued, effect });
    } else {
      this.out.push(effect);
    }
  }

  private persistQuorum(): void {
    const w = this.store.writeQuorumState({
      epoch: this.sEpoch,
      votedFor: this.voteFloor.pending ? VOTE_FLOOR_PENDING : this.sVotedFor,
      leaderId: this.sLeaderId,
      repairTargetOffset: this.store.repairTargetOffset,
    });
    this.quorumSeqIssued = w.seq;
    this.out.push(...w.effects);
  }

  private onQuorumDurable(seq: number): void {
    if (seq > this.quorumSeqIssued) throw new Error('quorumDurable for a write never issued');
    this.quorumSeqDurable = Math.max(this.quorumSeqDurable, seq);
    const ready = this.held.filter((h) => h.seq <= this.quorumSeqDurable);
    this.held = this.held.filter((h) => h.seq > this.quorumSeqDurable);
    for (const h of ready) this.out.push(h.effect);
  }

  // -------------------------------------------------------------------------------------------
  // Store events

  private onStoreEvents(events: StoreEvent[]): void {
    this.out.push(...this.store.drainEffects());
    for (const ev of events) {
      if (this.sRole === 'failed') return; // fail-stop: nothing after a disk error counts
      switch (ev.kind) {
        case 'recovered':
          this.onRecovered(ev);
          break;
        case 'logDurable':
          this.onLogDurable();
          break;
        case 'quorumDurable':
          this.onQuorumDurable(ev.seq);
          break;
        case 'snapshotDurable':
          this.onSnapshotDurable(ev.id);
          break;
        case 'failed':
          this.becomeFailed();
          break;
      }
    }
  }

  private onRecovered(ev: Extract<StoreEvent, { kind: 'recovered' }>): void {
    const q = ev.quorum;
    this.sEpoch = q?.epoch ?? 0;
    if (q?.votedFor === VOTE_FLOOR_PENDING) this.voteFloor.start();
    this.sVotedFor = this.voteFloor.pending ? undefined : q?.votedFor;
    if (ev.snapshot) {
      this.sm.restore(ev.snapshot.data, ev.snapshot.id.endOffset, ev.snapshot.id.epoch);
      this.sAppliedOffset = ev.snapshot.id.endOffset;
      this.sHighWatermark = ev.snapshot.id.endOffset;
    }
    if (this.store.repairTargetOffset > 0) this.persistQuorum(); // record RAFT-9 damage durably
    const leader = q?.leaderId;
    if (leader !== undefined && leader !== this.cfg.nodeId && this.cfg.voters.includes(leader)) {
      this.becomeFollower(this.sEpoch, leader, false);
    } else {
      // A restarted leader lost its in-memory state: it does not resume leading.
      this.becomeUnattached(this.sEpoch, this.electionBackoffMs());
    }
    if (this.voteFloor.pending) {
      this.probeVoteFloor();
      this.maybeLearnVoteFloor(); // at once when there is no other voter
    }
  }

  // -------------------------------------------------------------------------------------------
  // RAFT-13: votes forgotten with a lost quorum state (the argument is in vote-floor.ts).

  private maybeLearnVoteFloor(): void {
    if (!this.voteFloor.pending || this.sRole === 'failed' || this.sRole === 'recovering') return;
    const floor = this.voteFloor.floor(this.sEpoch);
    if (floor === undefined) return;
    if (floor > this.sEpoch) this.becomeUnattached(floor, this.electionBackoffMs());
    this.voteFloor.finish();
    this.out.push(cancelTimer(T_VOTE_PROBE));
    // No vote of this incarnation exists yet (we were not a voter), so this marks only the floor.
    if (this.sEpoch === floor && this.sVotedFor === undefined) this.sVotedFor = VOTE_UNKNOWN;
    this.persistQuorum();
  }

  /** Asks every voter that has not reported its epoch yet (a Fetch; any answer carries it). */
  private probeVoteFloor(): void {
    if (!this.voteFloor.pending) return;
    for (const v of this.voteFloor.unreported()) {
      if (this.sRole === 'follower' && v === this.sLeaderId) continue; // its fetch responses report
      this.sendMsg(v, this.fetchRequest(this.store.durableEndOffset, 0, 0));
    }
    this.out.push(setTimer(T_VOTE_PROBE, this.cfg.electionTimeoutMs));
  }

  private onLogDurable(): void {
    if (this.sRole === 'leader') {
      this.maybeAdvanceHighWatermark();
    } else if (this.sRole === 'follower') {
      this.maybeFinishRepair();
      this.maybeSendFetch();
    }
  }

  private becomeFailed(): void {
    if (this.sRole === 'leader') this.failReads();
    this.sRole = 'failed';
    for (const t of [T_ELECTION, T_FETCH_TIMEOUT, T_FETCH_RETRY, T_CHECK_QUORUM, T_LONG_POLL, T_VOTE_PROBE]) this.out.push(cancelTimer(t));
    this.held = [];
    this.sm.leadershipChanged?.(undefined, this.sEpoch, false);
  }

  // -------------------------------------------------------------------------------------------
  // Role transitions (only these change `role`)

  private isVoter(): boolean {
    return this.cfg.voters.includes(this.cfg.nodeId) && this.store.repairTargetOffset === 0 && this.store.failed === undefined && !this.voteFloor.pending;
  }

  private electionBackoffMs(): number {
    return nextInt(this.rng, this.cfg.electionTimeoutMs, 2 * this.cfg.electionTimeoutMs);
  }

  private leaveRole(): void {
    if (this.sRole === 'leader') {
      this.failReads();
      this.parked.clear();
      this.out.push(cancelTimer(T_CHECK_QUORUM), cancelTimer(T_LONG_POLL));
    }
    if (this.sRole === 'follower') {
      this.out.push(cancelTimer(T_FETCH_TIMEOUT), cancelTimer(T_FETCH_RETRY));
      this.download = undefined;
      this.fetchInFlight = false;
      this.awaitedCorrelationId = undefined;
    }
    this.grants.clear();
  }

  private setEpoch(epoch: number, leaderId: NodeId | undefined): boolean {
    if (epoch < this.sEpoch) throw new Error(`setEpoch: ${epoch} < ${this.sEpoch}`);
    const changed = epoch !== this.sEpoch || leaderId !== this.sLeaderId;
    if (epoch > this.sEpoch) this.sVotedFor = undefined;
    this.sEpoch = epoch;
    this.sLeaderId = leaderId;
    if (changed) this.sm.leadershipChanged?.(leaderId, epoch, leaderId === this.cfg.nodeId);
    return changed;
  }

  private becomeUnattached(epoch: number, timeoutMs: number): void {
    this.leaveRole();
    const changed = this.setEpoch(epoch, undefined);
    this.sRole = 'unattached';
    if (changed) this.persistQuorum();
    this.out.push(setTimer(T_ELECTION, timeoutMs));
  }

  /**
   * `heardFromLeader`: the news came from the leader itself. Hearsay (a voter's answer, our own
   * quorum state after a restart) starts with no contact, so it cannot make us reject votes
   * (RAFT-10) or vouch for a leader that may be gone - else followers of a dead leader would
   * keep pointing each other back at it.
   */
  private becomeFollower(epoch: number, leaderId: NodeId, heardFromLeader: boolean): void {
    if (leaderId === this.cfg.nodeId) throw new Error('becomeFollower of self');
    if (epoch === this.sEpoch && this.sRole === 'leader') throw new Error(`RAFT-1: leader of epoch ${epoch} told ${leaderId} leads it`);
    this.leaveRole();
    const changed = this.setEpoch(epoch, leaderId);
    this.sRole = 'follower';
    this.lastResponseNo = 0; // numbering is per (leader, epoch); restarting at 0 is conservative
    if (changed) this.persistQuorum();
    this.lastLeaderContactMs = heardFromLeader ? this.now : -Infinity;
    this.out.push(cancelTimer(T_ELECTION), setTimer(T_FETCH_TIMEOUT, this.cfg.fetchTimeoutMs));
    this.maybeSendFetch();
  }

  /** KIP-996: ask for pre-votes for epoch+1 without changing anything durable. */
  private becomeProspective(): void {
    if (!this.isVoter()) throw new Error('becomeProspective: not a voter');
    this.leaveRole();
    // The leader is forgotten (in memory only; not worth a write): if it is still alive, the
    // voters' answers name it and we follow it again (KIP-996).
    this.setEpoch(this.sEpoch, undefined);
    this.sRole = 'prospective';
    this.solicitVotes(true);
  }

  private becomeCandidate(): void {
    if (!this.isVoter()) throw new Error('becomeCandidate: not a voter');
    this.leaveRole();
    this.setEpoch(this.sEpoch + 1, undefined);
    this.sVotedFor = this.cfg.nodeId;
    this.sRole = 'candidate';
    this.persistQuorum();
    this.solicitVotes(false);
  }

  /** Votes for ourselves and asks the peers; a lone voter moves on at once. */
  private solicitVotes(preVote: boolean): void {
    this.grants = new Set([this.cfg.nodeId]);
    this.out.push(setTimer(T_ELECTION, this.electionBackoffMs()));
    if (this.grants.size >= this.majority) return preVote ? this.becomeCandidate() : this.becomeLeader();
    const req = this.voteRequest(preVote);
    for (const v of this.peers) this.sendMsg(v, req);
  }

  private becomeLeader(): void {
    if (this.sRole !== 'candidate' || this.sVotedFor !== this.cfg.nodeId) throw new Error('becomeLeader: not a candidate of this epoch');
    if (this.grants.size < this.majority) throw new Error('becomeLeader: no majority');
    this.leaveRole();
    this.setEpoch(this.sEpoch, this.cfg.nodeId);
    this.sRole = 'leader';
    this.persistQuorum();
    this.progress.clear();
    for (const v of this.peers) this.progress.set(v, { ackOffset: 0, lastFetchMs: this.now, fetchedThisEpoch: false });
    this.reads.reset(this.peers);
    this.epochStartOffset = this.store.logEndOffset;
    // The LeaderChange entry gives this epoch an entry of its own to commit (RAFT-4).
    const control: RaftRecord = { offset: this.epochStartOffset, epoch: this.sEpoch, control: true, payload: controlPayload(this.cfg.nodeId, this.sEpoch) };
    this.out.push(...this.store.append([control]));
    this.out.push(cancelTimer(T_ELECTION), setTimer(T_CHECK_QUORUM, this.checkQuorumPeriodMs()));
    this.sendBeginQuorumEpoch(() => true);
  }

  /** How long a follower waits for the answer to a Fetch or FetchSnapshot before asking again. */
  private fetchRetryMs(): number {
    return this.cfg.fetchMaxWaitMs + Math.ceil(this.cfg.fetchTimeoutMs / 2);
  }

  private checkQuorumPeriodMs(): number {
    return Math.max(1, Math.floor(this.cfg.fetchTimeoutMs / 2));
  }

  private sendBeginQuorumEpoch(to: (v: NodeId) => boolean): void {
    for (const v of this.peers) {
      if (to(v)) this.sendMsg(v, { type: 'BeginQuorumEpochRequest', voterId: v, leaderId: this.cfg.nodeId, leaderEpoch: this.sEpoch });
    }
  }

  private resign(): void {
    for (const v of this.peers) this.sendMsg(v, { type: 'EndQuorumEpochRequest', leaderId: this.cfg.nodeId, leaderEpoch: this.sEpoch, preferredSuccessors: [] });
    this.becomeUnattached(this.sEpoch, this.electionBackoffMs());
  }

  // -------------------------------------------------------------------------------------------
  // Timers

  private onTimer(name: string): void {
    switch (name) {
      case T_ELECTION:
        if (this.sRole === 'unattached' || this.sRole === 'prospective' || this.sRole === 'candidate') {
          if (this.isVoter()) this.becomeProspective();
          else this.discoverLeader();
        }
        return;
      case T_FETCH_TIMEOUT:
        if (this.sRole !== 'follower') return;
        if (this.now - this.lastLeaderContactMs < this.cfg.fetchTimeoutMs - 1) {
          // Re-armed at least 1 ms ahead: clocks are floats, and a 0 ms timer would spin.
          this.out.push(setTimer(T_FETCH_TIMEOUT, Math.max(1, Math.ceil(this.lastLeaderContactMs + this.cfg.fetchTimeoutMs - this.now))));
        } else if (this.isVoter()) {
          this.becomeProspective();
        } else {
          this.becomeUnattached(this.sEpoch, 0);
        }
        return;
      case T_FETCH_RETRY:
        if (this.sRole !== 'follower') return;
        // RAFT-15: the request in flight (if any) is given up: a late answer to it is ignored,
        // and the request is sent again under a new correlationId.
        this.fetchInFlight = false;
        this.awaitedCorrelationId = undefined;
        if (this.download !== undefined) return this.requestSnapshotChunk();
        this.maybeSendFetch();
        return;
      case T_CHECK_QUORUM:
        if (this.sRole === 'leader') this.checkQuorum();
        return;
      case T_LONG_POLL:
        if (this.sRole === 'leader') this.answerParkedFetches((p) => p.deadlineMs <= this.now + 1);
        return;
      case T_VOTE_PROBE:
        this.probeVoteFloor();
        return;
      default:
        return;
    }
  }

  /** Non-voters (and damaged voters) find the leader by fetching from voters in turn. */
  private discoverLeader(): void {
    if (this.peers.length > 0) {
      const to = this.peers[this.discoverIndex++ % this.peers.length];
      this.sendMsg(to, this.fetchRequest(this.store.durableEndOffset, 0, 0));
    }
    this.out.push(setTimer(T_ELECTION, this.electionBackoffMs()));
  }

  private checkQuorum(): void {
    let live = 1; // self
    for (const p of this.progress.values()) if (this.now - p.lastFetchMs < this.cfg.fetchTimeoutMs) live++;
    if (live < this.majority) return this.resign();
    this.sendBeginQuorumEpoch((v) => !this.progress.get(v)!.fetchedThisEpoch);
    this.out.push(setTimer(T_CHECK_QUORUM, this.checkQuorumPeriodMs()));
  }

  // -------------------------------------------------------------------------------------------
  // Messages

  private onMessage(from: NodeId, m: RaftMessage): void {
    if (invalidRaftMessage(m) !== undefined) return; // hostile or corrupt: drop
    this.dispatch(from, m);
    if (!this.voteFloor.pending) return;
    const epoch = reportedEpoch(m);
    if (epoch !== undefined) this.voteFloor.note(from, epoch);
    this.maybeLearnVoteFloor();
  }

  private dispatch(from: NodeId, m: RaftMessage): void {
    switch (m.type) {
      case 'VoteRequest':
        return this.onVoteRequest(from, m);
      case 'VoteResponse':
        return this.onVoteResponse(from, m);
      case 'BeginQuorumEpochRequest':
        return this.onBeginQuorumEpoch(from, m.leaderId, m.leaderEpoch);
      case 'EndQuorumEpochRequest':
        return this.onEndQuorumEpoch(from, m.leaderId, m.leaderEpoch);
      case 'BeginQuorumEpochResponse':
      case 'EndQuorumEpochResponse':
        return this.maybeLearnEpoch(from, { leaderId: m.leaderId, leaderEpoch: m.leaderEpoch });
      case 'FetchRequest':
        return this.onFetchRequest(from, m);
      case 'FetchResponse':
        return this.onFetchResponse(from, m);
      case 'FetchSnapshotRequest':
        return this.onFetchSnapshotRequest(from, m);
      case 'FetchSnapshotResponse':
        return this.onFetchSnapshotResponse(from, m);
    }
  }

  private currentLeader(): LeaderIdAndEpoch {
    const known = this.hasLiveLeader();
    return { leaderId: known ? (this.sLeaderId ?? -1) : -1, leaderEpoch: this.sEpoch };
  }

  /** A peer reports a higher epoch (or this epoch's leader): follow it. */
  private maybeLearnEpoch(from: NodeId, l: LeaderIdAndEpoch): void {
    if (l.leaderEpoch < this.sEpoch) return;
    const known = l.leaderId !== -1 && l.leaderId !== this.cfg.nodeId && this.cfg.voters.includes(l.leaderId);
    if (l.leaderEpoch > this.sEpoch) {
      if (known) this.becomeFollower(l.leaderEpoch, l.leaderId, from === l.leaderId);
      else this.becomeUnattached(l.leaderEpoch, this.electionBackoffMs());
    } else if (known && this.sRole !== 'follower' && this.sRole !== 'leader') {
      this.becomeFollower(this.sEpoch, l.leaderId, from === l.leaderId);
    }
  }

  private onBeginQuorumEpoch(from: NodeId, leaderId: NodeId, leaderEpoch: number): void {
    let errorCode: ErrorCodeValue = ErrorCode.NONE;
    if (leaderEpoch < this.sEpoch) errorCode = ErrorCode.FENCED_LEADER_EPOCH;
    else if (leaderId !== from || !this.cfg.voters.includes(leaderId)) errorCode = ErrorCode.INCONSISTENT_VOTER_SET;
    else if (leaderEpoch === this.sEpoch && this.sRole === 'leader') errorCode = ErrorCode.INVALID_REQUEST; // RAFT-1 would be broken
    else if (leaderEpoch > this.sEpoch || this.sRole !== 'follower' || this.sLeaderId !== leaderId) this.becomeFollower(leaderEpoch, leaderId, true);
    this.sendMsg(from, { type: 'BeginQuorumEpochResponse', errorCode, ...this.currentLeader() });
  }

  private onEndQuorumEpoch(from: NodeId, leaderId: NodeId, leaderEpoch: number): void {
    if (leaderEpoch === this.sEpoch && this.sLeaderId === leaderId && leaderId === from && this.sRole === 'follower') {
      // The leader resigned: elect quickly, but jittered so the voters do not collide.
      this.becomeUnattached(this.sEpoch, nextInt(this.rng, 0, this.cfg.electionTimeoutMs));
    }
    this.sendMsg(from, { type: 'EndQuorumEpochResponse', errorCode: ErrorCode.NONE, ...this.currentLeader() });
  }

  // ---- votes

  private voteRequest(preVote: boolean): VoteRequest {
    return {
      type: 'VoteRequest',
      candidateEpoch: preVote ? this.sEpoch + 1 : this.sEpoch,
      candidateId: this.cfg.nodeId,
      voterId: -1,
      lastOffsetEpoch: this.store.lastEpoch(),
      lastOffset: this.store.logEndOffset,
      preVote,
    };
  }

  /** RAFT-10: we heard from a live leader recently (or are it), so elections are disruptive. */
  private hasLiveLeader(): boolean {
    if (this.sRole === 'leader') return true;
    return this.sRole === 'follower' && this.now - this.lastLeaderContactMs < this.cfg.fetchTimeoutMs;
  }

  private onVoteRequest(from: NodeId, req: VoteRequest): void {
    const answer = (voteGranted: boolean, errorCode: ErrorCodeValue = ErrorCode.NONE): void =>
      this.sendMsg(from, { type: 'VoteResponse', errorCode, voteGranted, preVote: req.preVote, ...this.currentLeader() });
    if (req.candidateId !== from || !this.cfg.voters.includes(from)) return answer(false, ErrorCode.INCONSISTENT_VOTER_SET);
    if (req.lastOffset < 0 || req.lastOffsetEpoch < 0 || req.lastOffsetEpoch > req.candidateEpoch) return answer(false, ErrorCode.INVALID_REQUEST);
    if (req.candidateEpoch < this.sEpoch) return answer(false, ErrorCode.FENCED_LEADER_EPOCH);
    if (!this.isVoter()) return answer(false);
    if (req.preVote) {
      // RAFT-10. A pre-vote is for the epoch the prospective would campaign in; one at or below
      // ours comes from a node that must first learn our epoch (our answer tells it).
      if (this.hasLiveLeader()) return answer(false);
      return answer(req.candidateEpoch > this.sEpoch && candidateLogIsUpToDate(this.store, req.lastOffsetEpoch, req.lastOffset));
    }
    // A standard vote in a higher epoch always moves us to that epoch, even with a live leader
    // (as Kafka does): its candidate passed a pre-vote, so a majority had lost the leader, and a
    // candidate left stranded in a higher epoch could otherwise never rejoin.

    if (req.candidateEpoch > this.sEpoch) this.becomeUnattached(req.candidateEpoch, this.electionBackoffMs());
    const free = this.sVotedFor === undefined || this.sVotedFor === from;
    const grant = free && this.sLeaderId === undefined && this.sRole !== 'leader' && candidateLogIsUpToDate(this.store, req.lastOffsetEpoch, req.lastOffset);
    if (grant && this.sVotedFor === undefined) {
      this.sVotedFor = from;
      this.persistQuorum(); // RAFT-5: the grant below is held until this is durable
      this.out.push(setTimer(T_ELECTION, this.electionBackoffMs()));
    }
    answer(grant);
  }

  private onVoteResponse(from: NodeId, res: VoteResponse): void {
    // A higher epoch, or (KIP-996) a voter naming this epoch's leader: follow it.
    if (res.leaderEpoch > this.sEpoch || (res.leaderEpoch === this.sEpoch && res.leaderId !== -1 && res.leaderId !== this.cfg.nodeId)) {
      return this.maybeLearnEpoch(from, res);
    }
    if (!this.cfg.voters.includes(from) || !res.voteGranted || res.errorCode !== ErrorCode.NONE) return;
    if (this.sRole === 'prospective' && res.preVote && res.leaderEpoch <= this.sEpoch) {
      this.grants.add(from);
      if (this.grants.size >= this.majority) this.becomeCandidate();
    } else if (this.sRole === 'candidate' && !res.preVote && res.leaderEpoch === this.sEpoch) {
      this.grants.add(from);
      if (this.grants.size >= this.majority) this.becomeLeader();
    }
  }

  // ---- fetch: leader side

  private fetchError(from: NodeId, req: FetchRequest, errorCode: ErrorCodeValue): void {
    this.sendMsg(from, { type: 'FetchResponse', errorCode, highWatermark: this.sHighWatermark, logStartOffset: this.store.logStartOffset, currentLeader: this.currentLeader(), records: [], sessionId: 0, correlationId: req.correlationId });
  }

  private epochError(currentLeaderEpoch: number): ErrorCodeValue | undefined {
    if (currentLeaderEpoch < this.sEpoch) return ErrorCode.FENCED_LEADER_EPOCH;
    if (currentLeaderEpoch > this.sEpoch) return ErrorCode.UNKNOWN_LEADER_EPOCH;
    if (this.sRole !== 'leader') return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    return undefined;
  }

  private onFetchRequest(from: NodeId, req: FetchRequest): void {
    if (req.replicaId !== from || req.fetchOffset < 0 || req.lastFetchedEpoch < 0 || req.maxWaitMs < 0 || req.sessionEpoch < 0) return this.fetchError(from, req, ErrorCode.INVALID_REQUEST);
    const err = this.epochError(req.currentLeaderEpoch);
    if (err !== undefined) return this.fetchError(from, req, err);
    if (req.lastFetchedEpoch > this.sEpoch) return this.fetchError(from, req, ErrorCode.INVALID_REQUEST);
    const p = this.progress.get(from);
    if (p) {
      p.lastFetchMs = this.now;
      p.fetchedThisEpoch = true;
      this.reads.onFetch(from, req.sessionEpoch); // RAFT-11
    }
    const verdict = validateFetch(this.store, req);
    if (verdict !== undefined) return this.sendFetchResponse(from, req, verdict);
    if (p) {
      // RAFT-6: fetchOffset is the follower's durable end, validated against our log (RAFT-2).
      p.ackOffset = Math.max(p.ackOffset, req.fetchOffset);
      this.maybeAdvanceHighWatermark();
    }
    if (req.fetchOffset >= this.store.logEndOffset && req.maxWaitMs > 0) {
      this.parked.set(from, { req, deadlineMs: this.now + Math.min(req.maxWaitMs, this.cfg.fetchTimeoutMs) });
      this.armLongPoll();
      return;
    }
    this.respondWithRecords(from, req);
  }

  private sendFetchResponse(to: NodeId, req: FetchRequest, extra: Partial<FetchResponse>): void {
    const sessionId = this.reads.numberResponse(to); // RAFT-11
    this.sendMsg(to, {
      sessionId,
      correlationId: req.correlationId, // RAFT-15: the follower matches it to its Fetch in flight
      type: 'FetchResponse',
      errorCode: ErrorCode.NONE,
      highWatermark: this.sHighWatermark,
      logStartOffset: this.store.logStartOffset,
      currentLeader: this.currentLeader(),
      records: [],
      ...extra,
    });
  }

  private respondWithRecords(to: NodeId, req: FetchRequest): void {
    this.parked.delete(to);
    const verdict = validateFetch(this.store, req); // the log may have moved since it was parked
    if (verdict !== undefined) return this.sendFetchResponse(to, req, verdict);
    const end = Math.min(this.store.logEndOffset, req.fetchOffset + this.cfg.maxFetchEntries);
    this.sendFetchResponse(to, req, { records: this.store.recordsBetween(req.fetchOffset, end) });
  }

  private answerParkedFetches(which: (p: { deadlineMs: number }) => boolean): void {
    if (this.sRole !== 'leader') return;
    // respondWithRecords deletes only the entry being visited, which Map iteration allows.
    for (const [to, p] of this.parked) if (which(p)) this.respondWithRecords(to, p.req);
    this.armLongPoll();
  }

  private armLongPoll(): void {
    let next = Infinity;
    for (const p of this.parked.values()) next = Math.min(next, p.deadlineMs);
    this.out.push(next === Infinity ? cancelTimer(T_LONG_POLL) : setTimer(T_LONG_POLL, Math.max(1, Math.ceil(next - this.now))));
  }

  /** RAFT-4: only an entry of the leader's own epoch may be committed by counting replicas. */
  private isCommittableEntryEpoch(entryEpoch: number): boolean {
    return entryEpoch === this.sEpoch;
  }

  private maybeAdvanceHighWatermark(): void {
    if (this.sRole !== 'leader') return;
    const acks: number[] = this.cfg.voters.map((v) => (v === this.cfg.nodeId ? this.store.durableEndOffset : (this.progress.get(v)?.ackOffset ?? 0)));
    const majorityDurable = majorityDurableEnd(acks, this.majority);
    if (majorityDurable <= this.sHighWatermark) return;
    const entry = this.store.entryAt(majorityDurable - 1);
    if (entry === undefined || !this.isCommittableEntryEpoch(entry.epoch)) return;
    this.sHighWatermark = majorityDurable;
    // Followers learn the new HW on their next response; wake the long-polling ones.
    this.answerParkedFetches(() => true);
  }

  private onFetchSnapshotRequest(from: NodeId, req: FetchSnapshotRequest): void {
    const snap = this.store.snapshot;
    const reply = (errorCode: ErrorCodeValue, position = req.position, bytes: Uint8Array = new Uint8Array(0)): void =>
      this.sendMsg(from, { type: 'FetchSnapshotResponse', errorCode, snapshotId: req.snapshotId, currentLeader: this.currentLeader(), size: snap?.data.length ?? 0, position, unalignedRecords: bytes, correlationId: req.correlationId });
    const err = this.epochError(req.currentLeaderEpoch);
    if (err !== undefined) return reply(err);
    const p = this.progress.get(from);
    if (p) p.lastFetchMs = this.now;
    if (!snap || !sameSnapshot(snap.id, req.snapshotId)) return reply(ErrorCode.SNAPSHOT_NOT_FOUND);
    if (req.position < 0 || req.position > snap.data.length) return reply(ErrorCode.POSITION_OUT_OF_RANGE);
    const len = Math.max(1, Math.min(req.maxBytes, this.cfg.snapshotChunkBytes));
    reply(ErrorCode.NONE, req.position, snap.data.subarray(req.position, req.position + len));
  }

  // ---- fetch: follower side

  /** `correlationId`: from `awaitResponse` for the follower's Fetch, 0 for a probe. */
  private fetchRequest(fetchOffset: number, sessionEpoch: number, correlationId: number): FetchRequest {
    return {
      sessionEpoch,
      correlationId,
      type: 'FetchRequest',
      replicaId: this.cfg.nodeId,
      maxWaitMs: this.cfg.fetchMaxWaitMs,
      currentLeaderEpoch: this.sEpoch,
      fetchOffset,
      lastFetchedEpoch: this.store.epochBefore(fetchOffset) ?? 0,
    };
  }

  /**
   * RAFT-6: the offset a follower may acknowledge, or undefined while a sync is in flight
   * (then everything appended is not yet durable and the follower must not fetch again).
   */
  private followerAckOffset(): number | undefined {
    if (this.store.logSyncsInFlight > 0) return undefined;
    return this.store.durableEndOffset;
  }

  /** RAFT-15: numbers a new request to the leader; from now on only its answer is acted on. */
  private awaitResponse(): number {
    this.lastCorrelationId = this.lastCorrelationId >= 0x7fff_ffff ? 1 : this.lastCorrelationId + 1; // int32, as Kafka's
    this.awaitedCorrelationId = this.lastCorrelationId;
    return this.lastCorrelationId;
  }

  private maybeSendFetch(): void {
    if (this.sRole !== 'follower' || this.sLeaderId === undefined || this.fetchInFlight || this.download !== undefined || this.snapshotWrite?.install) return;
    const ack = this.followerAckOffset();
    if (ack === undefined) return;
    this.fetchInFlight = true;
    this.sendMsg(this.sLeaderId, this.fetchRequest(ack, this.lastResponseNo, this.awaitResponse()));
    this.out.push(setTimer(T_FETCH_RETRY, this.fetchRetryMs()));
  }

  private onFetchResponse(from: NodeId, res: FetchResponse): void {
    if (res.currentLeader.leaderEpoch > this.sEpoch || (this.sRole !== 'follower' && this.sRole !== 'leader')) this.maybeLearnEpoch(from, res.currentLeader);
    if (this.sRole !== 'follower' || from !== this.sLeaderId || res.currentLeader.leaderEpoch !== this.sEpoch) return;
    // Any response of this leader and epoch that arrived counts as news of it, a stale one too:
    // a Fetch sent after it arrived still proves a round trip (RAFT-11 echo), and it shows the
    // leader alive (RAFT-10; e.g. the original's late answer after a retry).
    this.lastResponseNo = Math.max(this.lastResponseNo, res.sessionId);
    if (res.errorCode === ErrorCode.NONE) this.lastLeaderContactMs = this.now;
    // RAFT-15: act only on the answer to the Fetch in flight. A duplicated or late answer to an
    // earlier Fetch was computed for a log we have changed since: its divergingEpoch or
    // snapshotId could remove entries acknowledged after it, which the leader may have
    // committed. Ignoring it leaves the Fetch in flight, its retry timer armed.
    if (res.correlationId !== this.awaitedCorrelationId) return;
    this.awaitedCorrelationId = undefined;
    this.fetchInFlight = false;
    this.out.push(cancelTimer(T_FETCH_RETRY));
    if (res.errorCode !== ErrorCode.NONE) {
      // NOT_LEADER_OR_FOLLOWER in our epoch: the leader resigned; the fetch timeout will elect.
      this.out.push(setTimer(T_FETCH_RETRY, Math.ceil(this.cfg.fetchTimeoutMs / 4)));
      this.fetchInFlight = true;
      return;
    }
    if (res.divergingEpoch) return this.truncateToDivergence(res.divergingEpoch);
    if (res.snapshotId) {
      // RAFT-14: one snapshot write at a time. While our own is in flight, finishing a download
      // would replace it; fetch again once it is durable (onSnapshotDurable does).
      if (this.snapshotWrite !== undefined) return;
      return this.startSnapshotDownload(from, res.snapshotId);
    }
    const fresh = freshRecords(this.store, res.records, this.sEpoch);
    if (fresh === undefined) return this.maybeSendFetch();
    if (fresh.length > 0) this.out.push(...this.store.append(fresh));
    this.sHighWatermark = Math.max(this.sHighWatermark, Math.min(res.highWatermark, this.store.logEndOffset));
    this.maybeSendFetch(); // at once if nothing was appended; else after the sync (RAFT-6)
  }

  private truncateToDivergence(d: { epoch: number; endOffset: number }): void {
    const ours = this.store.endOffsetForEpoch(d.epoch);
    const to = Math.min(d.endOffset, ours?.endOffset ?? this.store.logStartOffset, this.store.logEndOffset);
    if (to < this.sHighWatermark) throw new Error(`RAFT-3: asked to truncate to ${to} below HW ${this.sHighWatermark}`);
    if (to < this.store.logStartOffset) throw new Error(`RAFT-3: divergence ${to} below our snapshot ${this.store.logStartOffset}`);
    this.out.push(...this.store.truncateTo(to));
    this.maybeSendFetch();
  }

  private startSnapshotDownload(leaderId: NodeId, id: SnapshotId): void {
    if (id.endOffset < this.sHighWatermark || id.endOffset < this.store.logStartOffset) return; // stale
    this.download = { id, leaderId, size: -1, position: 0, chunks: [] };
    this.requestSnapshotChunk();
  }

  private requestSnapshotChunk(): void {
    const d = this.download!;
    this.sendMsg(d.leaderId, { type: 'FetchSnapshotRequest', replicaId: this.cfg.nodeId, maxBytes: this.cfg.snapshotChunkBytes, currentLeaderEpoch: this.sEpoch, snapshotId: d.id, position: d.position, correlationId: this.awaitResponse() });
    this.out.push(setTimer(T_FETCH_RETRY, this.fetchRetryMs()));
    this.fetchInFlight = true;
  }

  private onFetchSnapshotResponse(from: NodeId, res: FetchSnapshotResponse): void {
    if (res.currentLeader.leaderEpoch > this.sEpoch) return this.maybeLearnEpoch(from, res.currentLeader);
    const d = this.download;
    if (this.sRole !== 'follower' || !d || from !== d.leaderId || res.currentLeader.leaderEpoch !== this.sEpoch) return;
    // RAFT-15: only the answer to the chunk request in flight (a stale error would abort the download).
    if (res.correlationId !== this.awaitedCorrelationId || !sameSnapshot(res.snapshotId, d.id) || res.position !== d.position) return;
    this.awaitedCorrelationId = undefined;
    this.fetchInFlight = false;
    this.out.push(cancelTimer(T_FETCH_RETRY));
    if (res.errorCode !== ErrorCode.NONE || res.size > MAX_SNAPSHOT_BYTES || (d.size >= 0 && res.size !== d.size)) {
      this.download = undefined; // start over with a fresh Fetch
      return this.maybeSendFetch();
    }
    this.lastLeaderContactMs = this.now;
    d.size = res.size;
    d.chunks.push(res.unalignedRecords);
    d.position += res.unalignedRecords.length;
    if (d.position > d.size || (res.unalignedRecords.length === 0 && d.position < d.size)) {
      this.download = undefined;
      return this.maybeSendFetch();
    }
    if (d.position < d.size) return this.requestSnapshotChunk();
    const data = concatBytes(d.chunks, d.size);
    this.download = undefined;
    this.snapshotWrite = { id: d.id, data, install: true };
    this.out.push(...this.store.writeSnapshot(d.id, data));
  }

  // -------------------------------------------------------------------------------------------
  // Applying, snapshots, reads, repair

  private maybeApply(): void {
    while (this.sAppliedOffset < this.sHighWatermark) {
      const e = this.store.entryAt(this.sAppliedOffset);
      if (e === undefined) throw new Error(`RAFT-12: committed entry ${this.sAppliedOffset} missing`);
      if (!e.control) this.sm.apply({ offset: e.offset, epoch: e.epoch, payload: e.payload });
      this.sAppliedOffset++;
    }
  }

  private maybeSnapshot(): void {
    // Entries applied since the durable snapshot (none is started while one is being written).
    const sinceSnapshot = this.sAppliedOffset - (this.store.snapshot?.id.endOffset ?? 0);
    // RAFT-14: none is started during a download either (the downloaded snapshot supersedes it).
    if (this.snapshotWrite !== undefined || this.download !== undefined || sinceSnapshot < this.cfg.snapshotEveryEntries) return;
    if (this.sAppliedOffset <= this.store.logStartOffset) return;
    const id = { endOffset: this.sAppliedOffset, epoch: this.store.entryAt(this.sAppliedOffset - 1)!.epoch };
    const data = this.sm.snapshot();
    this.snapshotWrite = { id, data, install: false };
    this.out.push(...this.store.writeSnapshot(id, data));
  }

  private onSnapshotDurable(id: SnapshotId): void {
    const w = this.snapshotWrite;
    if (!w || !sameSnapshot(w.id, id)) throw new Error('snapshotDurable for an unknown snapshot');
    this.snapshotWrite = undefined;
    const prev = this.store.snapshot?.id;
    const older = prev !== undefined && !sameSnapshot(prev, id) ? [prev] : [];
    if (w.install) {
      if (id.endOffset < this.sHighWatermark) return this.maybeSendFetch(); // overtaken
      this.out.push(...this.store.resetToSnapshot(id));
      this.sm.restore(w.data, id.endOffset, id.epoch);
      this.sAppliedOffset = id.endOffset;
      this.sHighWatermark = id.endOffset;
      this.out.push(...this.store.adoptSnapshot(id, w.data, older));
      this.maybeFinishRepair();
      return this.maybeSendFetch();
    }
    this.out.push(...this.store.adoptSnapshot(id, w.data, older));
    this.out.push(...this.store.deletePrefix(id));
    if (this.sRole === 'follower') this.maybeSendFetch();
  }

  private checkReads(): void {
    if (this.sRole !== 'leader') return;
    for (const token of this.reads.takeReady(this.sAppliedOffset)) this.sm.readReady?.(token);
  }

  private failReads(): void {
    for (const token of this.reads.takeAll()) this.sm.readFailed?.(token);
  }

  /** RAFT-9: a damaged replica becomes a voter again once it refetched what it may have acked. */
  private maybeFinishRepair(): void {
    const target = this.store.repairTargetOffset;
    if (target === 0 || this.store.durableEndOffset < target || this.store.logSyncsInFlight > 0) return;
    this.store.repairTargetOffset = 0;
    this.persistQuorum();
  }

  // -------------------------------------------------------------------------------------------

  private assertInvariants(): void {
    const s = this.store;
    if (s.durableEndOffset > s.logEndOffset) throw new Error('RAFT-6a: durable end beyond log end');
    if (s.logStartOffset > s.logEndOffset) throw new Error('log start beyond log end');
    if (this.sAppliedOffset > this.sHighWatermark) throw new Error('RAFT-12: applied beyond HW');
    if (this.sRole === 'recovering' || this.sRole === 'failed') return;
    if (this.sHighWatermark > s.logEndOffset) throw new Error(`RAFT-4: HW ${this.sHighWatermark} beyond log end ${s.logEndOffset}`);
    if (this.sRole === 'leader' && (this.sVotedFor !== this.cfg.nodeId || this.sLeaderId !== this.cfg.nodeId)) throw new Error('RAFT-1: leader without its own vote');
    if (this.sRole === 'candidate' && this.sVotedFor !== this.cfg.nodeId) throw new Error('RAFT-1: candidate without its own vote');
  }
}
