import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LeaderEpochCache } from './leader-epoch-cache.ts';
import { encodeCheckpoint, parseCheckpoint } from './checkpoint-file.ts';

test('endOffsetFor follows OffsetsForLeaderEpoch semantics (EPOCH-2)', () => {
  const c = new LeaderEpochCache();
  c.assign(2, 10);
  c.assign(4, 20);
  c.assign(7, 35);
  const leo = 50;
  assert.deepEqual(c.endOffsetFor(7, leo), { epoch: 7, endOffset: 50 }); // latest: LEO
  assert.deepEqual(c.endOffsetFor(4, leo), { epoch: 4, endOffset: 35 }); // next epoch's start
  assert.deepEqual(c.endOffsetFor(5, leo), { epoch: 4, endOffset: 35 }); // unknown epoch: largest below
  assert.deepEqual(c.endOffsetFor(1, leo), { epoch: 1, endOffset: 10 }); // below the first
  assert.deepEqual(c.endOffsetFor(8, leo), { epoch: -1, endOffset: -1 }); // above latest
  assert.deepEqual(c.endOffsetFor(-1, leo), { epoch: -1, endOffset: -1 });
});

test('assign keeps epochs and offsets strictly increasing (EPOCH-1)', () => {
  const c = new LeaderEpochCache();
  c.assign(1, 0);
  c.assign(1, 5); // same epoch: no-op
  c.assign(3, 10);
  c.assign(2, 8); // out of order: replaces entries not older in both
  assert.deepEqual(c.all(), [{ epoch: 1, startOffset: 0 }, { epoch: 2, startOffset: 8 }]);
});

test('truncateFromEnd / truncateFromStart', () => {
  const c = new LeaderEpochCache();
  c.assign(1, 0);
  c.assign(2, 10);
  c.assign(3, 20);
  c.truncateFromEnd(20);
  assert.deepEqual(c.all().map((e) => e.epoch), [1, 2]);
  c.truncateFromStart(15);
  assert.deepEqual(c.all(), [{ epoch: 2, startOffset: 15 }]);
});

test('checkpoint text format round-trips and rejects garbage', () => {
  const c = new LeaderEpochCache();
  c.assign(3, 7);
  c.assign(5, 9);
  const bytes = c.encode();
  assert.equal(new TextDecoder().decode(bytes), '0\n2\n3 7\n5 9\n');
  assert.deepEqual(LeaderEpochCache.decode(bytes).all(), c.all());
  assert.deepEqual(LeaderEpochCache.decode(new TextEncoder().encode('0\n2\n3 7\n')).all(), []);
  // EPOCH-1 (both columns strictly increase): a checkpoint breaking it in either column is not loaded.
  for (const text of ['0\n2\n3 7\n5 7\n', '0\n2\n3 7\n3 9\n', '0\n2\n5 7\n3 9\n', '0\n2\n3 9\n5 7\n']) {
    assert.deepEqual(LeaderEpochCache.decode(new TextEncoder().encode(text)).all(), [], JSON.stringify(text));
  }
  assert.deepEqual(parseCheckpoint(encodeCheckpoint([['t', 0, 42]]), 3), [['t', '0', '42']]);
  assert.equal(parseCheckpoint(new TextEncoder().encode('1\n0\n'), 3), null);
});
