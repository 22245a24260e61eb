// The leader's read-index bookkeeping (RAFT-11), split out of replica.ts: pending reads, and per
// follower the numbering of fetch responses that proves a round trip began after a read.
//
// Invariants:
//  RAFT-11 a read is ready only when a majority of voters (the leader counts itself) confirmed it
//          - a follower confirms read k with a Fetch that echoes (FetchRequest.sessionEpoch) the
//          number (FetchResponse.sessionId) of a response sent after read k began - and the
//          leader applied up to its commitAt. Marks ascend in both response number and read seq.
// Faults: retried, duplicated or lost Fetches and responses (a retry echoes no newer response, so
// it confirms nothing new; a lost response only delays confirmation); a hostile echo above what
// was sent is ignored. All queues are bounded.
import type { NodeId } from '../io.ts';

const MAX_PENDING_READS = 10_000;

interface FollowerReads {
  /** Fetch responses sent to it in this epoch; the last one's number is its `sessionId`. */
  responsesSent: number;
  /** Response number n was sent when readSeq was already `seq` (the first response after each
   *  readSeq change only). */
  marks: { n: number; seq: number }[];
  /** Every read with seq <= this had a round trip to this follower that began after it. */
  confirmedSeq: number;
}

interface PendingRead {
  readonly token: number;
  readonly commitAt: number;
  readonly seq: number;
}

export class ReadIndex {
  private followers = new Map<NodeId, FollowerReads>();
  private reads: PendingRead[] = [];
  private readSeq = 0;

  constructor(private readonly majority: number) {}

  /** A new epoch of leadership: every follower starts unnumbered. Pending reads must be failed first. */
  reset(followers: readonly NodeId[]): void {
    if (this.reads.length > 0) throw new Error('ReadIndex.reset with reads pending');
    this.followers.clear();
    for (const f of followers) this.followers.set(f, { responsesSent: 0, marks: [], confirmedSeq: 0 });
  }

  /** Registers a read; false if too many are pending. */
  begin(token: number, commitAt: number): boolean {
    if (this.reads.length >= MAX_PENDING_READS) return false;
    this.readSeq++;
    this.reads.push({ token, commitAt, seq: this.readSeq });
    return true;
  }

  /** Numbers the next fetch response to `to` (its sessionId); 0 for a non-voter. */
  numberResponse(to: NodeId): number {
    const p = this.followers.get(to);
    if (!p) return 0;
    const n = ++p.responsesSent;
    const lastSeq = p.marks.length > 0 ? p.marks[p.marks.length - 1].seq : p.confirmedSeq;
    if (this.readSeq > lastSeq) {
      // Bounded: dropping the oldest mark only delays confirmation (a later mark covers more).
      if (p.marks.length >= MAX_PENDING_READS) p.marks.shift();
      p.marks.push({ n, seq: this.readSeq });
    }
    return n;
  }

  /**
   * A Fetch echoing response number `echoed` was sent after the follower received that response,
   * which was sent after every read with seq <= its mark began: a full round trip after those
   * reads. Numbers above what we sent are ignored.
   */
  onFetch(from: NodeId, echoed: number): void {
    const p = this.followers.get(from);
    if (!p || echoed > p.responsesSent) return;
    while (p.marks.length > 0 && p.marks[0].n <= echoed) {
      p.confirmedSeq = Math.max(p.confirmedSeq, p.marks[0].seq);
      p.marks.shift();
    }
  }

  /** Removes and returns the tokens of reads that are now ready, in order. */
  takeReady(appliedOffset: number): number[] {
    const ready: number[] = [];
    while (this.reads.length > 0) {
      const r = this.reads[0];
      if (!this.confirmed(r.seq) || appliedOffset < r.commitAt) break;
      this.reads.shift();
      ready.push(r.token);
    }
    return ready;
  }

  /** Removes and returns every pending read's token (leadership lost). */
  takeAll(): number[] {
    const tokens = this.reads.map((r) => r.token);
    this.reads = [];
    return tokens;
  }

  private confirmed(seq: number): boolean {
    let n = 1; // the leader itself
    for (const p of this.followers.values()) if (p.confirmedSeq >= seq) n++;
    return n >= this.majority;
  }
}
