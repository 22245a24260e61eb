// The quorum checker on hand-made replica views: it must flag what it claims to (found in review:
// Q-4 passed a leader lacking the last committed entry when its LeaderChange sat at that offset,
// and Q-2 skipped a committed entry missing below the high watermark).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QuorumChecker, type QuorumView } from './quorum.ts';

interface Entry {
  readonly epoch: number;
  readonly payload: Uint8Array;
}
interface State {
  role: string;
  epoch: number;
  hw: number;
  log: (Entry | undefined)[];
}
const ent = (epoch: number, v: number): Entry => ({ epoch, payload: Uint8Array.of(v) });
const view = (nodeId: number, s: State): QuorumView =>
  ({
    nodeId,
    appliedDigest: () => 'd',
    replica: {
      get role() { return s.role; },
      get epoch() { return s.epoch; },
      get highWatermark() { return s.hw; },
      get logStartOffset() { return 0; },
      get logEndOffset() { return s.log.length; },
      get appliedOffset() { return 0; },
      entryAt: (o: number) => s.log[o],
    },
  }) as unknown as QuorumView;

test('Q-4: a new leader holding another entry at a committed offset (its own LeaderChange) is flagged', () => {
  const q = new QuorumChecker();
  q.observe(view(1, { role: 'leader', epoch: 1, hw: 3, log: [ent(1, 0), ent(1, 1), ent(1, 2)] }), 1);
  q.observe(view(2, { role: 'leader', epoch: 2, hw: 0, log: [ent(1, 0), ent(1, 1), ent(2, 99)] }), 2);
  assert.deepEqual(q.violations.map((v) => v.invariant), ['Q-4']);
});

test('Q-2: a committed entry missing below a replica high watermark is flagged', () => {
  const q = new QuorumChecker();
  q.observe(view(1, { role: 'leader', epoch: 1, hw: 3, log: [ent(1, 0), ent(1, 1), ent(1, 2)] }), 1);
  q.observe(view(2, { role: 'follower', epoch: 1, hw: 3, log: [ent(1, 0), undefined, ent(1, 2)] }), 2);
  assert.deepEqual(q.violations.map((v) => v.invariant), ['Q-2']);
});

test('Q-4: a stale candidate winning an older epoch after a later epoch committed more is not flagged', () => {
  const q = new QuorumChecker();
  q.observe(view(3, { role: 'leader', epoch: 3, hw: 3, log: [ent(1, 0), ent(1, 1), ent(3, 2)] }), 1);
  // a late vote makes node 2 leader of epoch 2: Raft promises it only what epochs < 2 committed
  q.observe(view(2, { role: 'leader', epoch: 2, hw: 0, log: [ent(1, 0), ent(1, 1)] }), 2);
  assert.deepEqual(q.violations, []);
});
