// Quorum behaviour on the small deterministic harness (harness.test.ts): elections, replication,
// the HW rule, divergence, crash recovery, snapshots, pre-vote, readIndex.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './harness.test.ts';

const electLeader = (c: Cluster, maxMs = 5_000) => {
  assert.ok(c.runUntil(() => c.leader() !== undefined, maxMs), 'a leader is elected');
  return c.leader()!;
};

/** Waits until a node other than `old` leads (one exists while `old` is isolated). */
const electReplacement = (c: Cluster, old: ReturnType<typeof electLeader>) => {
  const others = c.alive().filter((s) => s !== old);
  assert.ok(c.runUntil(() => others.some((s) => s.replica.role === 'leader'), 5_000), 'c.runUntil(() => others.some((s) => s.replica.role === \'leader\'), 5...');
  return others.find((s) => s.replica.role === 'leader')!;
};

const commitAll = (c: Cluster, maxMs = 5_000): void => {
  assert.ok(
    c.runUntil(() => {
      const l = c.leader();
      return l !== undefined && c.alive().every((s) => s.replica.highWatermark === l.replica.logEndOffset && s.replica.appliedOffset === l.replica.logEndOffset);
    }, maxMs),
    'everything committed and applied everywhere',
  );
};

test('elections: exactly one leader per epoch across seeds (RAFT-1)', () => {
  for (let seed = 1; seed <= 30; seed++) {
    const c = new Cluster({ seed, n: seed % 2 === 0 ? 3 : 5 });
    const l = electLeader(c);
    c.runFor(500);
    assert.equal(c.leader()?.id, l.id, `seed ${seed}: leader stable without faults`);
    for (const s of c.alive()) assert.equal(s.replica.epoch, l.replica.epoch, `seed ${seed}: epochs agree`);
  }
});

test('single voter elects itself and commits', () => {
  const c = new Cluster({ n: 1 });
  const l = electLeader(c);
  c.propose(l.id, 'a', 'b');
  commitAll(c);
  assert.deepEqual(l.sm.values(), ['a', 'b']);
});

test('replication and commit: entries reach every follower in order', () => {
  const c = new Cluster({ seed: 7 });
  const l = electLeader(c);
  for (let i = 0; i < 20; i++) assert.ok(c.propose(l.id, `v${i}`).ok, 'c.propose(l.id, `v${i}`).ok');
  commitAll(c);
  for (const s of c.alive()) assert.deepEqual(s.sm.values(), Array.from({ length: 20 }, (_, i) => `v${i}`));
  const f = c.alive().find((s) => s !== l)!;
  assert.equal(c.propose(f.id, 'x').ok, false, 'followers refuse proposals');
});

test('HW counts only durable acks of current-epoch entries (RAFT-4)', () => {
  const c = new Cluster({ seed: 3 });
  const l = electLeader(c);
  commitAll(c);
  const before = l.replica.highWatermark;
  // Followers cut off: the leader alone may not commit.
  c.isolate(l.id);
  c.propose(l.id, 'lonely');
  c.runFor(100);
  assert.equal(l.replica.highWatermark, before, 'no majority, no commit');
  assert.ok(l.replica.durableEndOffset > before, 'though durable on the leader');
  c.heal();
  // It may have resigned (check quorum); either way the entry commits only in a current epoch.
  c.runUntil(() => c.leader() !== undefined, 5_000);
  commitAll(c);
});

test('leader does not count an older epoch entry toward HW until its own entry commits', () => {
  const c = new Cluster({ seed: 11 });
  const l = electLeader(c);
  commitAll(c);
  const e0 = l.replica.epoch;
  // Old leader writes an entry only it has, then is isolated and replaced.
  c.isolate(l.id);
  c.propose(l.id, 'old-epoch');
  c.runFor(50);
  const l2 = electReplacement(c, l);
  assert.ok(l2.replica.epoch > e0, 'l2.replica.epoch > e0');
  c.heal();
  commitAll(c);
  // The old-epoch entry was never committed: it is gone everywhere (truncated by divergence).
  for (const s of c.alive()) assert.ok(!s.sm.values().includes('old-epoch'), `node ${s.id} applied a dead entry`);
  for (const s of c.alive()) assert.equal(s.replica.logEndOffset, l2.replica.logEndOffset);
});

test('divergence: an isolated leader truncates its suffix on rejoin (RAFT-2)', () => {
  const c = new Cluster({ seed: 5 });
  const l = electLeader(c);
  c.propose(l.id, 'a');
  commitAll(c);
  c.isolate(l.id);
  for (let i = 0; i < 5; i++) c.propose(l.id, `stale${i}`);
  c.runFor(30);
  const l2 = electReplacement(c, l);
  c.propose(l2.id, 'b', 'c');
  c.heal();
  commitAll(c);
  for (const s of c.alive()) assert.deepEqual(s.sm.values(), ['a', 'b', 'c'], `node ${s.id}`);
});

test('crash and restart: recovery from disk keeps committed entries, loses only unsynced ones', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const c = new Cluster({ seed });
    const l = electLeader(c);
    for (let i = 0; i < 10; i++) c.propose(l.id, `v${i}`);
    commitAll(c);
    // More writes, then crash everyone at an arbitrary moment (torn tails possible).
    for (let i = 10; i < 15; i++) c.propose(c.leader()!.id, `v${i}`);
    c.runFor(c.rng.int(0, 4));
    for (const s of c.alive()) c.crash(s.id);
    for (const s of [...c.nodes.values()]) c.restart(s.id);
    electLeader(c);
    commitAll(c);
    const values = c.leader()!.sm.values();
    assert.deepEqual(values.slice(0, 10), Array.from({ length: 10 }, (_, i) => `v${i}`), `seed ${seed}`);
    for (const s of c.alive()) assert.deepEqual(s.sm.values(), values);
  }
});

test('torn tail: a half-written last entry is detected and truncated', () => {
  const c = new Cluster({ seed: 9, diskFaults: { latencyMs: { min: 0.1, max: 1 }, tornWriteRate: 1 } });
  const l = electLeader(c);
  commitAll(c);
  const f = c.alive().find((s) => s !== l)!;
  c.crash(f.id);
  c.propose(l.id, 'x');
  c.runFor(20);
  c.crash(l.id); // its unsynced write of 'y' tears
  c.propose(l.id, 'y');
  c.restart(f.id);
  c.restart(l.id);
  electLeader(c);
  commitAll(c);
  for (const s of c.alive()) assert.ok(s.replica.failure === undefined, 's.replica.failure === undefined');
});

test('bit-rot in acknowledged data makes a replica a non-voter until repaired (RAFT-9)', () => {
  const c = new Cluster({ seed: 13, cfg: { segmentMaxBytes: 200 } });
  const l = electLeader(c);
  for (let i = 0; i < 30; i++) c.propose(l.id, `v${i}`);
  commitAll(c);
  c.propose(l.id, 'later'); // appended once the 30 were durable: its frame vouches for them (RAFT-8)
  commitAll(c);
  const f = c.alive().find((s) => s !== l)!;
  c.crash(f.id);
  const seg = [...f.disk.durableFiles().keys()].find((p) => p.startsWith('meta/log/'))!;
  f.disk.corrupt(seg, 30, 4);
  c.restart(f.id);
  assert.ok(c.runUntil(() => f.replica.role !== 'recovering', 1_000), 'c.runUntil(() => f.replica.role !== \'recovering\', 1_000)');
  assert.ok(f.replica.recoveryReport?.rotDetected, 'rot detected');
  assert.ok(f.replica.repairTargetOffset > 0, 'damaged until repaired');
  commitAll(c);
  assert.ok(c.runUntil(() => f.replica.repairTargetOffset === 0, 2_000), 'repaired from the leader');
  assert.deepEqual(f.sm.values(), l.sm.values());
});

test('snapshot: prefix deleted, lagging replica installs it via FetchSnapshot', () => {
  const c = new Cluster({ seed: 21, cfg: { snapshotEveryEntries: 10, segmentMaxBytes: 300, snapshotChunkBytes: 64 } });
  const l = electLeader(c);
  const lag = c.alive().find((s) => s !== l)!;
  c.crash(lag.id);
  for (let i = 0; i < 60; i++) {
    c.propose(l.id, `v${i}`);
    c.runFor(2);
  }
  commitAll(c);
  assert.ok(l.replica.logStartOffset > 0, 'leader deleted its prefix after a snapshot');
  c.restart(lag.id);
  commitAll(c);
  assert.deepEqual(lag.sm.values(), l.sm.values());
  assert.ok(lag.replica.logStartOffset > 0, 'lagging replica started from a snapshot');
  // And it recovers from that snapshot after another crash.
  c.crash(lag.id);
  c.restart(lag.id);
  commitAll(c);
  assert.deepEqual(lag.sm.values(), l.sm.values());
});

test('pre-vote: a rejoining partitioned node does not disrupt the leader (RAFT-10)', () => {
  const c = new Cluster({ seed: 17, n: 5 });
  const l = electLeader(c);
  commitAll(c);
  const epoch = l.replica.epoch;
  const p = c.alive().find((s) => s !== l)!;
  c.isolate(p.id);
  c.runFor(3_000); // p times out repeatedly, but pre-votes never reach anyone
  assert.equal(p.replica.epoch, epoch, 'pre-vote kept the partitioned node from bumping its epoch');
  c.heal();
  c.runFor(1_000);
  assert.equal(c.leader()?.id, l.id, 'leader undisturbed');
  assert.equal(l.replica.epoch, epoch);
  assert.equal(p.replica.leaderId, l.id);
});

test('check quorum: a leader cut off from the majority resigns', () => {
  const c = new Cluster({ seed: 19 });
  const l = electLeader(c);
  c.isolate(l.id);
  c.runFor(1_000);
  assert.notEqual(l.replica.role, 'leader');
});

test('readIndex: ready after a round of fetches, failed on leadership loss (RAFT-11)', () => {
  const c = new Cluster({ seed: 23 });
  const l = electLeader(c);
  c.propose(l.id, 'a');
  c.readIndex(l.id, 1);
  assert.deepEqual(l.sm.ready, [], 'not ready synchronously');
  assert.ok(c.runUntil(() => l.sm.ready.includes(1), 1_000), 'c.runUntil(() => l.sm.ready.includes(1), 1_000)');
  assert.ok(l.sm.values().includes('a'), 'applied the commit offset at call time first');
  c.isolate(l.id);
  c.readIndex(l.id, 2);
  c.runFor(1_000);
  assert.deepEqual(l.sm.ready, [1]);
  assert.deepEqual(l.sm.failed, [2]);
  const f = c.alive().find((s) => s.replica.role !== 'leader' && s !== l)!;
  c.readIndex(f.id, 3);
  assert.ok(f.sm.failed.includes(3), 'non-leaders fail reads at once');
});

test('Raft Figure 8: an older-epoch entry is never committed by counting replicas (RAFT-4)', () => {
  let scenarios = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const c = new Cluster({ seed, n: 5, cfg: { maxFetchEntries: 1 } });
    const a = electLeader(c).id;
    commitAll(c);
    const [b, ...rest] = [1, 2, 3, 4, 5].filter((id) => id !== a);
    // 1. The leader A writes x, which reaches only B.
    c.split([a, b], ...rest.map((id) => [id]));
    const k = c.propose(a, 'x').offsets![0];
    assert.ok(c.runUntil(() => c.node(b).replica.durableEndOffset > k, 2_000), 'c.runUntil(() => c.node(b).replica.durableEndOffset > k, 2_000)');
    c.crash(a);
    // 2. C (one of the rest) leads a later epoch and writes its LeaderChange at k, alone.
    c.split(rest, [b]);
    assert.ok(c.runUntil(() => rest.some((id) => c.node(id).replica.role === 'leader'), 5_000), 'c.runUntil(() => rest.some((id) => c.node(id).replica.role === \'lea...');
    const cId = rest.find((id) => c.node(id).replica.role === 'leader')!;
    c.split([b]);
    assert.ok(c.runUntil(() => c.node(cId).replica.durableEndOffset > k, 1_000), 'c.runUntil(() => c.node(cId).replica.durableEndOffset > k, 1_000)');
    const [d, e] = rest.filter((id) => id !== cId);
    if (c.node(d).replica.logEndOffset !== k || c.node(e).replica.logEndOffset !== k) continue; // C's entry escaped
    c.crash(cId);
    // 3. A returns and leads {A, B, D}; D gets x (old epoch) one entry at a time.
    c.restart(a);
    c.split([a, b, d], [e]);
    assert.ok(c.runUntil(() => [a, b].some((id) => c.node(id).replica.role === 'leader'), 5_000), 'c.runUntil(() => [a, b].some((id) => c.node(id).replica.role === \'l...');
    const x = [a, b].find((id) => c.node(id).replica.role === 'leader')!;
    c.runUntil(() => c.node(x).replica.highWatermark > k || c.node(d).replica.logEndOffset > k + 1, 2_000);
    // 4. Cut off X the moment D has x but not X's own entry; C returns with D and E.
    c.split([e]);
    c.crash(x);
    c.restart(cId);
    c.split([cId, d, e]);
    c.runFor(3_000); // C may win with D's vote only if D lacks X's epoch entry; then x is overwritten
    scenarios++;
    c.heal();
    for (const id of [1, 2, 3, 4, 5]) c.restart(id);
    commitAll(c, 10_000);
  }
  assert.ok(scenarios >= 3, `the Figure 8 schedule was reached in ${scenarios} seeds`);
});

test('observer: a non-voter finds the leader, replicates, never campaigns or counts', () => {
  const c = new Cluster({ seed: 29, n: 3, observers: 1 });
  const l = electLeader(c);
  for (let i = 0; i < 5; i++) c.propose(l.id, `v${i}`);
  commitAll(c);
  const o = c.node(4);
  assert.equal(o.replica.role, 'follower');
  assert.deepEqual(o.sm.values(), l.sm.values());
  // With the voters partitioned from each other, the observer still never campaigns.
  c.isolate(l.id);
  c.runFor(2_000);
  const role: string = o.replica.role;
  assert.ok(!['leader', 'candidate', 'prospective'].includes(role), `observer became ${role}`);
  assert.ok(![...c.leaders.values()].includes(4), '![...c.leaders.values()].includes(4)');
});

test('graceful resignation: EndQuorumEpoch makes the others elect a new leader quickly', () => {
  const c = new Cluster({ seed: 37 });
  const l = electLeader(c);
  commitAll(c);
  const t0 = c.now;
  c.apply(l, l.replica.resignLeadership({ now: c.now, wall: c.now }));
  assert.notEqual(l.replica.role, 'leader');
  assert.ok(c.runUntil(() => c.leader() !== undefined, 2_000), 'c.runUntil(() => c.leader() !== undefined, 2_000)');
  assert.ok(c.leader()!.replica.epoch > l.replica.epoch - 1 && c.now - t0 < 1_000, `re-elected after ${c.now - t0} ms`);
  commitAll(c);
});

test('determinism: the same seed gives the same run', () => {
  const run = (): string => {
    const c = new Cluster({ seed: 41, n: 5, dropRate: 0.02 });
    for (let i = 0; i < 30; i++) {
      c.runFor(25);
      const l = c.leader();
      if (l) c.propose(l.id, `p${i}`);
      if (i === 10) c.crash(2);
      if (i === 20) c.restart(2);
    }
    return JSON.stringify([c.eventsRun, c.now, [...c.leaders], [...c.nodes.values()].map((s) => [s.replica.role, s.replica.epoch, s.replica.highWatermark, s.sm.values().join()])]);
  };
  assert.equal(run(), run());
});

// ---- step-level tests of the persistence gates, one replica driven by hand

import { SimDisk } from '../../sim/disk.ts';
import { makeSimRng } from '../../sim/rng.ts';
import { RaftReplica } from './replica.ts';
import type { Effect } from '../io.ts';
import type { RaftMessage } from './messages.ts';
import { ListSM, bytes } from './harness.test.ts';

class Hand {
  disk = new SimDisk(makeSimRng(1));
  ids = 1;
  sm = new ListSM();
  r: RaftReplica;
  queue: Effect<RaftMessage, never>[] = [];
  sent: RaftMessage[] = [];
  /** The correlationId of the last Fetch or FetchSnapshot the follower numbered (RAFT-15). */
  cid = 0;
  now = 0;
  constructor() {
    this.r = new RaftReplica(
      { nodeId: 2, voters: [1, 2, 3], dir: 'meta', electionTimeoutMs: 150, fetchTimeoutMs: 200, fetchMaxWaitMs: 50, snapshotEveryEntries: 100, maxFetchEntries: 10, snapshotChunkBytes: 64 },
      this.sm,
      { next: () => this.ids++ },
    );
    this.feed(this.r.step({ tag: 'Start', seed: 1, now: 0, wall: 0 }));
    this.drain();
  }
  feed(effects: Effect<RaftMessage, never>[]): void {
    for (const e of effects) {
      if (e.tag === 'Disk') this.queue.push(e);
      else if (e.tag === 'Send') {
        this.sent.push(e.message);
        if ((e.message.type === 'FetchRequest' || e.message.type === 'FetchSnapshotRequest') && e.message.correlationId > 0) this.cid = e.message.correlationId;
      }
    }
  }
  msg(from: number, message: RaftMessage): void {
    this.feed(this.r.step({ tag: 'Message', from, message, now: ++this.now, wall: this.now }));
  }
  timer(name: string, afterMs = 0): void {
    this.now += afterMs;
    this.feed(this.r.step({ tag: 'Timer', timer: name, now: ++this.now, wall: this.now }));
  }
  /** Completes up to `n` queued disk operations in order. */
  drain(n = Infinity): void {
    for (let i = 0; i < n && this.queue.length > 0; i++) {
      const e = this.queue.shift()!;
      if (e.tag !== 'Disk') continue;
      const res = this.disk.execute(e.op);
      const stamp = { now: ++this.now, wall: this.now };
      this.feed(this.r.step(res.ok ? { tag: 'DiskDone', id: e.id, op: e.op.kind, result: res.result, ...stamp } : { tag: 'DiskFailed', id: e.id, op: e.op.kind, error: res.error, ...stamp }));
    }
  }
  /** Power loss and a fresh process over the same disk. */
  restart(): void {
    this.disk.crash();
    this.queue = [];
    this.sent = [];
    this.sm = new ListSM();
    this.r = new RaftReplica(this.r.cfg, this.sm, { next: () => this.ids++ });
    this.feed(this.r.step({ tag: 'Start', seed: 2, now: ++this.now, wall: this.now }));
    this.drain();
  }
  take(type: RaftMessage['type']): RaftMessage[] {
    const got = this.sent.filter((m) => m.type === type);
    this.sent = this.sent.filter((m) => m.type !== type);
    return got;
  }
}

test('RAFT-5: a vote is sent only after the vote is durable', () => {
  const h = new Hand();
  h.msg(1, { type: 'VoteRequest', candidateEpoch: 1, candidateId: 1, voterId: 2, lastOffsetEpoch: 0, lastOffset: 0, preVote: false });
  assert.equal(h.r.votedFor, 1);
  assert.deepEqual(h.take('VoteResponse'), [], 'held while the quorum state is written');
  while (h.queue.length > 1) h.drain(1);
  assert.deepEqual(h.take('VoteResponse'), [], 'still held before the final syncDir');
  h.drain();
  const [res] = h.take('VoteResponse');
  assert.ok(res && res.type === 'VoteResponse' && res.voteGranted, 'res && res.type === \'VoteResponse\' && res.voteGranted');
  // A second candidate in the same epoch is refused.
  h.msg(3, { type: 'VoteRequest', candidateEpoch: 1, candidateId: 3, voterId: 2, lastOffsetEpoch: 0, lastOffset: 0, preVote: false });
  h.drain();
  const [res3] = h.take('VoteResponse');
  assert.ok(res3 && res3.type === 'VoteResponse' && !res3.voteGranted, 'res3 && res3.type === \'VoteResponse\' && !res3.voteGranted');
});

test('RAFT-6: a follower fetches past new entries only after their sync completed', () => {
  const h = new Hand();
  h.msg(1, { type: 'BeginQuorumEpochRequest', voterId: 2, leaderId: 1, leaderEpoch: 1 });
  assert.deepEqual(h.take('FetchRequest'), [], 'no message in the new epoch before the epoch is durable');
  h.drain();
  const [f0] = h.take('FetchRequest');
  assert.ok(f0 && f0.type === 'FetchRequest' && f0.fetchOffset === 0, 'f0 && f0.type === \'FetchRequest\' && f0.fetchOffset === 0');
  const records = [0, 1, 2].map((o) => ({ offset: o, epoch: 1, control: false, payload: bytes(`r${o}`) }));
  h.msg(1, { type: 'FetchResponse', errorCode: 0, highWatermark: 0, logStartOffset: 0, currentLeader: { leaderId: 1, leaderEpoch: 1 }, records, sessionId: 1, correlationId: f0.correlationId });
  assert.equal(h.r.logEndOffset, 3);
  assert.equal(h.r.durableEndOffset, 0);
  while (h.queue.length > 1) {
    h.drain(1);
    assert.deepEqual(h.take('FetchRequest'), [], 'no acknowledgement before the sync completes');
  }
  h.drain();
  const [f1] = h.take('FetchRequest');
  assert.ok(f1 && f1.type === 'FetchRequest' && f1.fetchOffset === 3 && f1.lastFetchedEpoch === 1, 'f1 && f1.type === \'FetchRequest\' && f1.fetchOffset === 3 && f1.last...');
  // Divergence: the leader says epoch 1 ends at 1; the follower truncates, then refetches from 1.
  h.msg(1, { type: 'FetchResponse', errorCode: 0, highWatermark: 1, logStartOffset: 0, currentLeader: { leaderId: 1, leaderEpoch: 1 }, records: [], divergingEpoch: { epoch: 1, endOffset: 1 }, sessionId: 2, correlationId: f1.correlationId });
  assert.equal(h.r.logEndOffset, 1);
  h.drain();
  const [f2] = h.take('FetchRequest');
  assert.ok(f2 && f2.type === 'FetchRequest' && f2.fetchOffset === 1, 'f2 && f2.type === \'FetchRequest\' && f2.fetchOffset === 1');
});

test('hostile messages are dropped or answered with error codes, never thrown', () => {
  const h = new Hand();
  h.msg(3, { type: 'VoteRequest', candidateEpoch: 1, candidateId: 9, voterId: 2, lastOffsetEpoch: 0, lastOffset: 0, preVote: false });
  h.msg(3, { type: 'FetchRequest', replicaId: 3, maxWaitMs: -1, currentLeaderEpoch: 0, fetchOffset: -5, lastFetchedEpoch: 0, sessionEpoch: 0, correlationId: 9 });
  h.msg(3, { type: 'Nonsense' } as unknown as RaftMessage);
  h.msg(3, { type: 'FetchResponse', errorCode: 0, highWatermark: 1e9, logStartOffset: 0, currentLeader: { leaderId: 3, leaderEpoch: 0 }, records: [{ offset: 5, epoch: 7, control: false, payload: bytes('x') }], sessionId: 1, correlationId: 0 });
  h.drain();
  const votes = h.take('VoteResponse');
  assert.ok(votes.every((v) => v.type === 'VoteResponse' && !v.voteGranted && v.errorCode !== 0), 'votes.every((v) => v.type === \'VoteResponse\' && !v.voteGranted && v...');
  const fetches = h.take('FetchResponse');
  assert.ok(fetches.every((f) => f.type === 'FetchResponse' && f.errorCode !== 0), 'fetches.every((f) => f.type === \'FetchResponse\' && f.errorCode !== 0)');
  assert.equal(h.r.logEndOffset, 0);
  assert.equal(h.r.highWatermark, 0);
});

test('RAFT-11: a leader cut off from the majority does not answer a read once a newer leader committed more', () => {
  // The window: followers elect a new leader after fetchTimeoutMs, the old one resigns only at its
  // next quorum check (up to fetchTimeoutMs / 2 later). A read the old leader takes then must
  // wait for a majority's confirmation, which never comes. The harness's RAFT-11 check (a read is
  // ready only once its replica applied everything committed when it began) fails a leader that
  // answers without it: planted (no confirmation), it failed all 12 windows below.
  let windows = 0;
  for (let seed = 1; seed <= 30; seed++) {
    const c = new Cluster({ seed, n: 3 });
    const L = electLeader(c);
    c.propose(L.id, 'a');
    assert.ok(c.runUntil(() => L.replica.highWatermark === L.replica.logEndOffset, 5_000));
    c.isolate(L.id); // at once: the phase of L's quorum check decides whether there is a window
    const e = L.replica.epoch;
    for (let i = 0; i < 400_000; i++) {
      c.stepOnce();
      const L2 = c.alive().find((s) => s !== L && s.replica.role === 'leader' && s.replica.epoch > e);
      if (L2 === undefined || L2.replica.highWatermark <= L.replica.highWatermark) continue;
      if (L.replica.role === 'leader') {
        windows++;
        c.readIndex(L.id, seed);
        c.runFor(100);
        assert.ok(!L.sm.ready.includes(seed), `seed ${seed}: the deposed leader answered the read`);
      }
      break;
    }
  }
  assert.ok(windows >= 5, `the old leader still led after the new one committed in ${windows} of 30 seeds`);
});

test('RAFT-11: a retried Fetch sent before the read began does not confirm it', () => {
  const c = new Cluster({ seed: 11, n: 3 });
  assert.ok(c.runUntil(() => c.leader() !== undefined));
  const l = c.leader()!;
  c.propose(l.id, 'x');
  c.runFor(300);
  assert.equal(c.leader(), l);
  const [a, b] = [...c.nodes.keys()].filter((id) => id !== l.id);
  c.partition(b, l.id); // only `a` can confirm reads
  // Pause the leader right after it parked a long-poll Fetch from `a` (the original).
  let parked = false;
  c.onMessage = (from, to, m) => {
    if (from === a && to === l.id && m.type === 'FetchRequest' && m.fetchOffset >= l.replica.logEndOffset) parked = true;
  };
  assert.ok(c.runUntil(() => parked, 1000), 'a Fetch from a was parked');
  c.onMessage = undefined;
  c.pause(l.id);
  // While the leader is paused, `a` retries (T_FETCH_RETRY): the retry waits at the leader.
  const retried = (): boolean => c.held.some((h) => h.ev.kind === 'msg' && h.ev.from === a && h.ev.msg.type === 'FetchRequest');
  assert.ok(c.runUntil(retried, 190), 'a retried its Fetch during the pause');
  c.resume(l.id);
  // The read begins; the parked original is answered at once, then the retry arrives.
  c.readIndex(l.id, 77);
  c.runFor(0.5); // only the held events run: nothing `a` sent after the read began has arrived
  assert.equal(l.replica.role, 'leader');
  assert.ok(!l.sm.ready.includes(77), 'the retried Fetch was sent before the read began: no confirmation');
  c.runFor(100);
  assert.ok(l.sm.ready.includes(77), 'confirmed by the next round trip');
});

test('RAFT-13: after losing its quorum state a voter grants no vote until every other voter reported its epoch', () => {
  const h = new Hand();
  const fetchRes = (from: number, epoch: number, records: { offset: number; epoch: number; control: boolean; payload: Uint8Array }[], sessionId: number, errorCode: 0 | 6 = 0): void =>
    h.msg(from, { type: 'FetchResponse', errorCode, highWatermark: 0, logStartOffset: 0, currentLeader: { leaderId: errorCode === 0 ? 1 : -1, leaderEpoch: epoch }, records, sessionId, correlationId: from === 1 ? h.cid : 0 });
  const vote = (from: number, epoch: number, lastOffset: number): boolean => {
    h.msg(from, { type: 'VoteRequest', candidateEpoch: epoch, candidateId: from, voterId: 2, lastOffsetEpoch: 1, lastOffset, preVote: false });
    h.drain();
    const got = h.take('VoteResponse');
    return got.some((v) => v.type === 'VoteResponse' && v.voteGranted);
  };
  // Follow leader 1 in epoch 1 and hold 3 durable entries.
  h.msg(1, { type: 'BeginQuorumEpochRequest', voterId: 2, leaderId: 1, leaderEpoch: 1 });
  h.drain();
  fetchRes(1, 1, [0, 1, 2].map((o) => ({ offset: o, epoch: 1, control: false, payload: bytes(`r${o}`) })), 1);
  h.drain();
  assert.equal(h.r.durableEndOffset, 3);
  // Candidate 3 bumped to epoch 5 and got our vote; then the quorum state rots away.
  assert.ok(vote(3, 5, 3), 'voted for 3 in epoch 5');
  h.disk.corrupt('meta/quorum-state', 4, 1);
  h.restart();
  assert.equal(h.r.epoch, 1, 'the epoch falls back to the log');
  assert.ok(h.r.repairTargetOffset > 0);
  // Leader 1 of epoch 1 is still alive (3's VoteRequests to the others were lost): we refetch
  // from it and finish the RAFT-9 repair.
  h.msg(1, { type: 'BeginQuorumEpochRequest', voterId: 2, leaderId: 1, leaderEpoch: 1 });
  h.drain();
  fetchRes(1, 1, [{ offset: 3, epoch: 1, control: false, payload: bytes('r3') }], 1);
  h.drain();
  assert.equal(h.r.repairTargetOffset, 0, 'repaired');
  // Learning epoch 1 from a leader is not enough: a vote in epoch 5 for 1 would be a second one.
  assert.ok(!vote(1, 5, 4), 'no vote in epoch 5: 3 has not reported its epoch');
  // Voter 3 answers the probe with its epoch 5: the floor is 5.
  fetchRes(3, 5, [], 0, 6);
  h.drain();
  assert.equal(h.r.epoch, 5);
  assert.ok(!vote(1, 5, 4), 'still no vote in epoch 5, the epoch whose vote may be spent');
  assert.ok(vote(1, 6, 4), 'votes again above the floor');
});

test('RAFT-14: a follower writing its own snapshot does not start a leader snapshot download over it', () => {
  const h = new Hand();
  h.msg(1, { type: 'BeginQuorumEpochRequest', voterId: 2, leaderId: 1, leaderEpoch: 1 });
  h.drain();
  h.take('FetchRequest');
  const leader = { leaderId: 1, leaderEpoch: 1 };
  const records = Array.from({ length: 100 }, (_, o) => ({ offset: o, epoch: 1, control: false, payload: bytes(`r${o}`) }));
  h.msg(1, { type: 'FetchResponse', errorCode: 0, highWatermark: 0, logStartOffset: 0, currentLeader: leader, records, sessionId: 1, correlationId: h.cid });
  h.drain();
  assert.equal(h.take('FetchRequest').length, 1);
  // The high watermark reaches 100: the follower applies and starts writing its own snapshot
  // (left in flight: its disk ops are not run yet) and fetches again at once.
  h.msg(1, { type: 'FetchResponse', errorCode: 0, highWatermark: 100, logStartOffset: 0, currentLeader: leader, records: [], sessionId: 2, correlationId: h.cid });
  assert.ok(h.queue.length > 0, 'own snapshot write in flight');
  assert.equal(h.take('FetchRequest').length, 1);
  // The leader has moved its log start past the follower: it answers with its snapshot.
  const snapshotId = { endOffset: 150, epoch: 1 };
  h.msg(1, { type: 'FetchResponse', errorCode: 0, highWatermark: 150, logStartOffset: 150, currentLeader: leader, records: [], snapshotId, sessionId: 3, correlationId: h.cid });
  assert.deepEqual(h.take('FetchSnapshotRequest'), [], 'no download while the own snapshot is being written');
  // Once the own snapshot is durable the follower fetches again, and the download goes ahead.
  h.drain();
  const [again] = h.take('FetchRequest');
  assert.ok(again && again.type === 'FetchRequest' && again.fetchOffset === 100);
  h.msg(1, { type: 'FetchResponse', errorCode: 0, highWatermark: 150, logStartOffset: 150, currentLeader: leader, records: [], snapshotId, sessionId: 4, correlationId: h.cid });
  const [req] = h.take('FetchSnapshotRequest');
  assert.ok(req && req.type === 'FetchSnapshotRequest' && req.position === 0);
  const data = bytes(JSON.stringify(Array.from({ length: 150 }, (_, o) => ({ offset: o, epoch: 1, payload: `r${o}` }))));
  for (let position = 0; position < data.length; ) {
    const chunk = data.subarray(position, position + 64);
    h.msg(1, { type: 'FetchSnapshotResponse', errorCode: 0, snapshotId, currentLeader: leader, size: data.length, position, unalignedRecords: chunk, correlationId: h.cid });
    position += chunk.length;
    if (position < data.length) assert.equal(h.take('FetchSnapshotRequest').length, 1);
  }
  h.drain();
  assert.equal(h.r.highWatermark, 150);
  assert.equal(h.sm.values().length, 150, 'the leader snapshot is installed');
});

// ---- RAFT-15: a follower acts only on the answer to its Fetch (or FetchSnapshot) in flight

/**
 * The old leader `old`, cut off, appends entries of its epoch only it holds (from `at`, the
 * divergence point); `leader` wins a higher epoch and `third` crashes at once, so `leader` can
 * commit only with `old`'s acknowledgements (once `old` follows it).
 */
const staleLeaderScenario = (c: Cluster) => {
  const old = electLeader(c);
  c.propose(old.id, 'a');
  commitAll(c);
  const e1 = old.replica.epoch;
  const at = old.replica.logEndOffset;
  c.isolate(old.id);
  c.propose(old.id, 'stale0', 'stale1', 'stale2');
  c.runFor(30);
  const others = c.alive().filter((s) => s !== old);
  let leader: typeof old | undefined;
  for (let i = 0; i < 200_000 && !leader; i++) {
    c.stepOnce();
    leader = others.find((s) => s.replica.role === 'leader' && s.replica.epoch > e1);
  }
  assert.ok(leader, 'a new leader in a higher epoch');
  const third = others.find((s) => s !== leader)!;
  c.crash(third.id);
  return { old, leader, third, at };
};

test('RAFT-15: a duplicated DivergingEpoch reply, delivered after the follower refetched and acked, truncates nothing (the committed entry survives)', () => {
  // Found in review (.scratch/review-replica/dup-divergence.ts): before RAFT-15 the duplicate
  // truncated L's entry at the divergence offset, which L2 had committed with L's ack alone.
  const c = new Cluster({ seed: 5, n: 3 });
  // L, cut off, appends entries only it holds; L2 wins a higher epoch; F crashes at once.
  const { old: L, leader: L2, third: F } = staleLeaderScenario(c);
  c.heal();
  // Capture L2's divergence reply to L; run until L refetched, acked past its end offset, and L2
  // counted that ack toward its HW.
  let captured: (RaftMessage & { type: 'FetchResponse' }) | undefined;
  let acked = false;
  c.onMessage = (from, to, m) => {
    if (from === L2.id && to === L.id && m.type === 'FetchResponse' && m.divergingEpoch && !captured) captured = m;
    if (from === L.id && to === L2.id && m.type === 'FetchRequest' && captured && L2.replica.highWatermark > captured.divergingEpoch!.endOffset) acked = true;
  };
  assert.ok(c.runUntil(() => acked, 5_000), 'L2 committed past the divergence point with L\'s ack');
  c.onMessage = undefined;
  const at = captured!.divergingEpoch!.endOffset;
  const committed = L2.replica.entryAt(at)!;
  assert.ok(L2.replica.highWatermark > at && L.replica.logEndOffset > at, 'the entry at the divergence offset is committed and on L');
  // The network delivers the old divergence reply to L a second time.
  const end = L.replica.logEndOffset;
  c.deliver(L.id, { tag: 'Message', from: L2.id, message: captured!, now: c.now, wall: c.now });
  assert.equal(L.replica.logEndOffset, end, 'the duplicate answers no Fetch in flight: ignored, nothing truncated');
  // L2 dies; F comes back. L still holds the committed entry, so whoever leads now has it (the
  // harness checkers throw on a committed entry that changed or went missing).
  c.crash(L2.id);
  c.restart(F.id);
  commitAll(c);
  const now = c.leader()!;
  assert.equal(now.replica.entryAt(at)?.epoch, committed.epoch, 'the committed entry survived');
  assert.ok(now.replica.highWatermark > at);
});

test('RAFT-15: answers to a dead incarnation\'s Fetches reach its successor and are ignored (the committed entry survives)', () => {
  // Found in review (.scratch/review7-raft/cross-inc.ts): correlationIds restarted at 1 in each
  // incarnation, and the harness delivers late copies of a dead incarnation's requests; the
  // leader's DivergingEpoch answer to one matched the id the new incarnation awaited, and it
  // truncated an entry the leader had committed with its ack.
  const c = new Cluster({ seed: 5, n: 3 });
  // A holds a stale tail from X; B leads a higher epoch and can commit only with A's acks.
  const { old: A, leader: B, third: C, at: X } = staleLeaderScenario(c);
  // A's first incarnation follows B; B's answers to it are lost, so it sends diverging Fetches
  // under ids 1, 2, 3, ... (before the fix) that B records; the new incarnation awaits one of them.
  const inc1Requests: (RaftMessage & { type: 'FetchRequest' })[] = [];
  const inc1 = A.inc;
  c.onMessage = (from, to, m) => {
    if (from === A.id && to === B.id && m.type === 'FetchRequest' && m.correlationId > 0 && A.inc === inc1) inc1Requests.push(m);
  };
  c.heal();
  assert.ok(c.runUntil(() => A.replica.role === 'follower' && A.replica.epoch === B.replica.epoch, 5_000), 'A follows B');
  const deliver = c.deliver.bind(c);
  let lose = true;
  c.deliver = (id, input) => {
    if (lose && id === A.id && input.tag === 'Message' && input.from === B.id && input.message.type === 'FetchResponse') return;
    deliver(id, input);
  };
  assert.ok(c.runUntil(() => inc1Requests.length >= 20, 20_000), 'twenty diverging Fetches of incarnation 1 (ids 1..20 before the fix)');
  lose = false;
  c.crash(A.id);
  c.restart(A.id);
  // The new incarnation truncates, refetches and acks; B commits the entry at X with its ack.
  assert.ok(c.runUntil(() => B.replica.highWatermark > X && A.replica.logEndOffset > X && A.replica.role === 'follower', 5_000), 'B committed X with A\'s ack');
  c.onMessage = undefined;
  const committed = B.replica.entryAt(X)!;
  // Late copies of every request of the dead incarnation reach B, whose DivergingEpoch answers go
  // to A's new incarnation (the harness's dupRate delivers such copies).
  for (const req of inc1Requests) deliver(B.id, { tag: 'Message', from: A.id, message: req, now: c.now, wall: c.now });
  // B dies as soon as the answers reached A (before A could fetch the entry again).
  c.runUntil(() => A.replica.logEndOffset <= X, 10);
  assert.ok(A.replica.logEndOffset > X, `A kept the committed entry at ${X} (log end ${A.replica.logEndOffset})`);
  c.crash(B.id);
  c.restart(C.id);
  commitAll(c);
  assert.equal(c.leader()!.replica.entryAt(X)?.epoch, committed.epoch, 'the committed entry survived');
});

test('RAFT-15: after a retry only the latest Fetch counts; stale answers are ignored and the follower still fetches', () => {
  const h = new Hand();
  const leader = { leaderId: 1, leaderEpoch: 1 };
  const res = (correlationId: number, extra: Partial<RaftMessage & { type: 'FetchResponse' }>): RaftMessage =>
    ({ type: 'FetchResponse', errorCode: 0, highWatermark: 0, logStartOffset: 0, currentLeader: leader, records: [], sessionId: 0, correlationId, ...extra }) as RaftMessage;
  const rec = (o: number) => ({ offset: o, epoch: 1, control: false, payload: bytes(`r${o}`) });
  const fetches = () => h.take('FetchRequest') as (RaftMessage & { type: 'FetchRequest' })[];
  h.msg(1, { type: 'BeginQuorumEpochRequest', voterId: 2, leaderId: 1, leaderEpoch: 1 });
  h.drain();
  const [f0] = fetches();
  h.msg(1, res(f0.correlationId, { records: [0, 1, 2].map(rec) }));
  h.drain();
  const [f1] = fetches();
  assert.equal(f1.fetchOffset, 3);
  // No answer in time: the follower retries under a new correlationId.
  h.timer('raft.fetchRetry', 150);
  const [f2] = fetches();
  assert.ok(f2 && f2.fetchOffset === 3, 'retried');
  // The original's answer arrives late, and a duplicate of an older one: both ignored.
  h.msg(1, res(f1.correlationId, { divergingEpoch: { epoch: 1, endOffset: 1 } }));
  h.msg(1, res(f0.correlationId, { divergingEpoch: { epoch: 1, endOffset: 0 } }));
  assert.equal(h.r.logEndOffset, 3, 'no truncation by answers to Fetches no longer in flight');
  assert.deepEqual(fetches(), [], 'still waiting for the retry\'s answer');
  assert.notEqual(f2.correlationId, f1.correlationId, 'the retry has a correlationId of its own');
  // The retry's answer is acted on.
  h.msg(1, res(f2.correlationId, { records: [rec(3)], highWatermark: 3 }));
  assert.equal(h.r.logEndOffset, 4);
  assert.equal(h.r.highWatermark, 3);
  h.drain();
  const [f3] = fetches();
  assert.equal(f3.fetchOffset, 4);
  // Its duplicate is ignored too (it answers nothing in flight), and only a stale answer comes:
  // ignoring it does not wedge the follower, whose retry timer sends a new Fetch.
  h.msg(1, res(f2.correlationId, { records: [rec(3)], highWatermark: 3 }));
  assert.deepEqual(fetches(), []);
  h.timer('raft.fetchRetry', 150);
  const [f4] = fetches();
  assert.ok(f4 && f4.fetchOffset === 4 && f4.correlationId !== f3.correlationId, 'fetches again');
  h.msg(1, res(f4.correlationId, { records: [rec(4)], highWatermark: 5 }));
  h.drain();
  assert.equal(h.r.highWatermark, 5);
  assert.deepEqual(h.sm.values(), ['r0', 'r1', 'r2', 'r3', 'r4']);
});

test('RAFT-15: a snapshot chunk request is retried under a new correlationId; the late answer to the old one is ignored', () => {
  const h = new Hand();
  const leader = { leaderId: 1, leaderEpoch: 1 };
  h.msg(1, { type: 'BeginQuorumEpochRequest', voterId: 2, leaderId: 1, leaderEpoch: 1 });
  h.drain();
  assert.equal(h.take('FetchRequest').length, 1);
  const snapshotId = { endOffset: 3, epoch: 1 };
  h.msg(1, { type: 'FetchResponse', errorCode: 0, highWatermark: 3, logStartOffset: 3, currentLeader: leader, records: [], snapshotId, sessionId: 1, correlationId: h.cid });
  const data = bytes(JSON.stringify([0, 1, 2].map((o) => ({ offset: o, epoch: 1, payload: `r${o}` }))));
  const chunk = (correlationId: number, errorCode: 0 | 98 = 0): RaftMessage =>
    ({ type: 'FetchSnapshotResponse', errorCode, snapshotId, currentLeader: leader, size: data.length, position: 0, unalignedRecords: errorCode === 0 ? data : new Uint8Array(0), correlationId });
  const [r0] = h.take('FetchSnapshotRequest') as (RaftMessage & { type: 'FetchSnapshotRequest' })[];
  assert.ok(r0 && r0.position === 0);
  h.timer('raft.fetchRetry', 150);
  const [r1] = h.take('FetchSnapshotRequest') as (RaftMessage & { type: 'FetchSnapshotRequest' })[];
  assert.ok(r1 && r1.position === 0 && r1.correlationId !== r0.correlationId, 'the chunk request is retried, not dropped');
  // A late error answer to the first request would have aborted the download: ignored.
  h.msg(1, chunk(r0.correlationId, 98));
  assert.deepEqual(h.take('FetchRequest'), [], 'the download goes on');
  h.msg(1, chunk(r1.correlationId));
  h.drain();
  assert.equal(h.r.highWatermark, 3);
  assert.deepEqual(h.sm.values(), ['r0', 'r1', 'r2']);
});
