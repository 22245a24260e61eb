// The vote floor of RAFT-13, split out of replica.ts: after a lost quorum state, which voters
// have reported their epoch to this incarnation, and the floor once all have.
//
// Invariants:
//  RAFT-13 while `pending`, the replica grants no (pre-)vote and does not campaign (replica.ts
//          isVoter); `floor` is defined only once every other voter reported, and is then >= any
//          epoch in which the replica may have voted before it lost its quorum state.
// Faults: reports arrive in any order, repeatedly, or never (then the replica stays a non-voter:
// safe, at a cost in availability). Bounded: one entry per voter.
//
// Why this suffices (and why a leader's epoch does not):
//
// A replica whose quorum state was lost (or corrupt) may have granted a vote in some epoch E'
// and no longer knows E'. Learning the epoch of a leader it fetched from after recovery is NOT
// enough: a candidate C can bump to E' (after a pre-vote majority), get our vote, and then fail
// to reach the others (lost VoteRequests), who return to the old leader of epoch E < E'; we
// would learn E from that leader, grant a vote in E' to D, and C (whose VoteRequest to a third
// voter may still be in flight) and D could both win E'. What does hold: C persisted E' before
// sending us its VoteRequest (RAFT-5), and epochs never decrease, so C's epoch is >= E' from
// then on. If we (the candidate) were C and won E', every other member of that majority holds
// an epoch >= E'; if we did not win, our self-vote can no longer elect anyone. Hence the max of
// EVERY other voter's epoch, each reported in a message received by this incarnation (the
// transport, like the simulator's, drops messages addressed to an earlier incarnation, so
// each was sent after our restart), is >= E'. We grant no (pre-)vote and do not campaign until
// all reported, then mark the vote of epoch F = that max as spent (VOTE_UNKNOWN) and vote
// only in epochs > F. Cost: while some voter is unreachable we stay a non-voter (safe; like
// RAFT-9 repair). A disk wiped entirely (no log, no quorum state) looks like a new replica and
// is not covered (that needs KIP-853 directory ids).
import type { NodeId } from '../io.ts';

export class VoteFloor {
  pending = false;
  private readonly reports = new Map<NodeId, number>();

  /** `peers`: the voters other than this replica. */
  constructor(private readonly peers: readonly NodeId[]) {}

  /** The quorum state was lost: forget every report and wait for all of them again. */
  start(): void {
    this.pending = true;
    this.reports.clear();
  }

  /** Records a peer voter's epoch from a response received by this incarnation. */
  note(from: NodeId, epoch: number): void {
    if (!this.pending || !this.peers.includes(from)) return;
    this.reports.set(from, Math.max(this.reports.get(from) ?? 0, epoch));
  }

  /** Voters (other than us) that have not reported yet. */
  unreported(): NodeId[] {
    return this.peers.filter((v) => !this.reports.has(v));
  }

  /** max(currentEpoch, every other voter's report), or undefined while one is missing. */
  floor(currentEpoch: number): number | undefined {
    if (!this.pending) throw new Error('VoteFloor.floor when not pending');
    let floor = currentEpoch;
    for (const v of this.peers) {
      const e = this.reports.get(v);
      if (e === undefined) return undefined;
      floor = Math.max(floor, e);
    }
    return floor;
  }

  finish(): void {
    this.pending = false;
    this.reports.clear();
  }
}
