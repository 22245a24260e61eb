import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeBatch, encodeBatch } from '../records/batch.ts';
import { assertIndexesReplacedAtomically, batchesIn, keyedBatch, makeBatch, newDriver, recordOps, smallConfig, type LogDriver } from './log-harness.test.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One batch; records [key, value|null]. */
const batch = (ts: number, records: [string, string | null][]): Uint8Array =>
  encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    baseTimestamp: ts,
    records: records.map(([k, v], i) => ({ offsetDelta: i, timestampDelta: 0, key: enc.encode(k), value: v === null ? null : enc.encode(v) })),
  });

/** Every record in the log as [offset, key, value]. */
const dump = (d: LogDriver): [number, string, string | null][] => {
  const out: [number, string, string | null][] = [];
  let fetch = d.log.logStartOffset;
  while (fetch < d.log.logEndOffset) {
    const r = d.read(fetch, 1 << 20);
    assert.equal(r.error, 'NONE');
    if (r.chunks.length === 0) break;
    for (const bytes of batchesIn(r.chunks)) {
      const b = decodeBatch(bytes, 0);
      assert.ok(!('error' in b));
      for (const rec of b.records) out.push([rec.offset, dec.decode(rec.key!), rec.value === null ? null : dec.decode(rec.value)]);
      fetch = Number(b.header.baseOffset) + b.header.lastOffsetDelta + 1;
    }
  }
  return out;
};

/** A dumped record as a set key. */
const key = (r: [number, string, string | null]): string => JSON.stringify(r);

const fill = (d: LogDriver, n: number, tombstoneKey = -1): void => {
  for (let i = 0; i < n; i++) {
    const recs: [string, string | null][] = [
      [`k${(2 * i) % 7}`, `v${i}a`],
      [`k${(2 * i + 1) % 7}`, i === tombstoneKey ? null : `v${i}b`],
    ];
    d.appendDrained(batch(1000 + i, recs), 1);
  }
  d.log.setHighWatermark(d.log.logEndOffset);
};

test('compaction keeps the last record per key in the cleaned range, with original offsets (CMP-1, CMP-2)', () => {
  const { d } = newDriver(21, smallConfig({ cleanupPolicy: 'compact' }));
  fill(d, 80);
  d.push(d.log.roll());
  d.drain();
  const before = dump(d);
  const cleanable = d.log.segments.slice(0, -1);
  const upper = d.log.segments[d.log.segments.length - 1].baseOffset;
  const ops = recordOps(d);
  d.push(d.log.compact(d.stamp()));
  d.drain();
  assert.ok(d.take('compacted').length > 0, 'something was cleaned');
  assertIndexesReplacedAtomically(ops); // IDX-1: the segments lie below the recovery point
  assert.ok(cleanable.length > 0);
  const after = dump(d);
  const lastInRange = new Map<string, number>();
  for (const [o, k] of before) if (o < upper) lastInRange.set(k, o);
  const beforeSet = new Set(before.map(key));
  const afterSet = new Set(after.map(key));
  for (const r of after) assert.ok(beforeSet.has(key(r)), 'CMP-2: only records that were appended');
  for (const r of before) if (r[0] >= upper) assert.ok(afterSet.has(key(r)), 'active segment untouched');
  for (const [k, o] of lastInRange) assert.ok(after.some((r) => r[0] === o && r[1] === k), `CMP-1: last record of ${k} kept`);
  const dupes = after.filter(([o, k]) => o < upper && lastInRange.get(k) !== o);
  assert.ok(dupes.length <= cleanable.length * 2, 'only the (CMP-4) last batch of a segment keeps superseded records');
  assert.deepEqual(after.map((r) => r[0]), [...after.map((r) => r[0])].sort((a, b) => a - b), 'offsets in order');
  const expected = after;
  d.crash();
  d.drain();
  assert.deepEqual(dump(d), expected, 'the cleaned log survives a crash');
});

test('tombstones survive until delete.retention.ms has passed', () => {
  const { d } = newDriver(22, smallConfig({ cleanupPolicy: 'compact', deleteRetentionMs: 10_000 }));
  fill(d, 40, 39); // the last batch's second record is a tombstone for its key
  fill(d, 40);
  d.push(d.log.roll());
  d.drain();
  const hasTombstone = (): boolean => dump(d).some(([, , v]) => v === null);
  d.push(d.log.compact({ now: 0, wall: 2000 }));
  d.drain();
  // The tombstone was superseded by a later write of its key in the second fill, so it is gone
  // regardless; check a fresh tombstone that is the last write of its key instead.
  const { d: d2 } = newDriver(23, smallConfig({ cleanupPolicy: 'compact', deleteRetentionMs: 10_000 }));
  fill(d2, 50, 49);
  d2.push(d2.log.roll());
  d2.drain();
  d2.push(d2.log.compact({ now: 0, wall: 2000 }));
  d2.drain();
  assert.ok(dump(d2).some(([, , v]) => v === null), 'young tombstone kept');
  d2.push(d2.log.compact({ now: 0, wall: 1_000_000 }));
  d2.drain();
  assert.ok(!dump(d2).some(([, , v]) => v === null), 'old tombstone dropped');
  assert.ok(!hasTombstone());
});

test('a crash at any point of a compaction leaves after ⊆ recovered ⊆ before (atomic swaps)', () => {
  const setup = (): LogDriver => {
    const { d } = newDriver(24, smallConfig({ cleanupPolicy: 'compact' }));
    fill(d, 60);
    d.push(d.log.roll());
    d.drain();
    return d;
  };
  const ref = setup();
  const before = dump(ref);
  ref.push(ref.log.compact(ref.stamp()));
  const ran = ref.opsRun;
  ref.drain();
  const opsInCompaction = ref.opsRun - ran;
  assert.ok(opsInCompaction > 20);
  const after = dump(ref);
  assert.ok(after.length < before.length);
  const beforeSet = new Set(before.map(key));
  for (let k = 0; k <= opsInCompaction; k += 1) {
    const d = setup();
    d.push(d.log.compact(d.stamp()));
    for (let i = 0; i < k; i++) d.stepOne();
    d.crash();
    d.drain();
    assert.equal(d.log.state, 'ready');
    const got = dump(d);
    const gotSet = new Set(got.map(key));
    for (const r of got) assert.ok(beforeSet.has(key(r)), `crash after ${k} ops: ${key(r)} was never written`);
    for (const r of after) assert.ok(gotSet.has(key(r)), `crash after ${k} ops: ${key(r)} lost`);
    assert.equal(d.log.logEndOffset, ref.log.logEndOffset);
  }
});

test('LOG-11 compacted log: truncateTo inside a cleaned gap ends the log at its last kept batch; a roll, a durable append and a crash lose nothing', () => {
  const { d } = newDriver(41, smallConfig({ cleanupPolicy: 'compact' }));
  // keys: 0:a 1:b 2:c 3:b 4:c  -> compaction removes offsets 1 and 2 (a gap 1..2)
  for (const [i, key] of [0, 1, 2, 1, 2].entries()) d.appendDrained(makeBatch(1, 100 + i, i, 8, key));
  d.push(d.log.roll());
  d.drain();
  d.appendDrained(makeBatch(1, 200, 9, 8, 9)); // offset 5, in the new active segment
  d.log.setHighWatermark(d.log.logEndOffset);
  d.push(d.log.compact(d.stamp()));
  d.drain();
  assert.equal(d.take('compacted').length, 1, 'segment 0 compacted');
  d.push(d.log.truncateTo(2)); // inside the gap: segment 0 keeps only offset 0
  d.drain();
  assert.equal(d.log.logEndOffset, 1, 'the log ends where its data does, not at the target (a hole the file cannot show)');
  d.push(d.log.roll()); // e.g. segment.ms expired or the segment is full
  const r = d.log.append(makeBatch(1, 300, 7, 8, 7), 0, d.stamp());
  assert.equal(r.baseOffset, 1);
  d.push(r.effects);
  // Run ops until offset 1 is acknowledged durable, then lose power. Before LOG-11 the log ended
  // at 2, the roll started segment 2, and recovery dropped it as following a lost tail.
  while (d.log.durableOffset < 2 && d.stepOne());
  assert.equal(d.log.durableOffset, 2, 'offset 1 acknowledged');
  d.crash();
  d.drain();
  assert.equal(d.log.state, 'ready');
  assert.equal(d.log.logEndOffset, 2, `durable offset 1 kept (corruption ${JSON.stringify(d.log.corruption)})`);
});

test('CMP: a base offset rotted at rest in the last batch of a cleanable segment aborts the run (it made the swap throw SEG-2)', () => {
  const { d } = newDriver(77, smallConfig({ cleanupPolicy: 'compact' }));
  for (let i = 0; i < 6; i++) d.appendDrained(batch(1000 + i, [[`k${i % 2}`, `v${i}`]]));
  d.push(d.log.roll());
  d.drain();
  for (let i = 0; i < 2; i++) d.appendDrained(batch(2000 + i, [[`z${i}`, `w${i}`]]));
  d.push(d.log.roll());
  d.drain();
  d.log.setHighWatermark(d.log.logEndOffset);
  const seg = d.log.segments[0];
  const size = seg.sizeBytes;
  // One bit of byte 2 of the last batch's big-endian baseOffset: the batch now lies >= 2^40
  // offsets above its segment, past its next offset (the CRC does not cover the base offset).
  d.disk.corrupt(seg.logFile, size - batch(1005, [['k1', 'v5']]).length + 2, 1);
  assert.doesNotThrow(() => {
    d.push(d.log.compact(d.stamp()));
    d.drain();
  });
  assert.equal(d.log.state, 'ready');
  assert.equal(d.take('compacted').length, 0, 'the run is aborted');
  assert.equal(d.log.segments[0], seg, 'the segment is not swapped');
  assert.equal(seg.sizeBytes, size);
});

test('LOG-13: a read from disk while a compaction swap waits for it answers NONE, not OFFSET_OUT_OF_RANGE', () => {
  // Found by the property's readRace command: the swap ran inside the read's completion, before
  // its answer, and the read no longer found its (replaced) segment.
  // Small read chunks: the read is still walking when the swap is ready.
  const { d } = newDriver(25, smallConfig({ cleanupPolicy: 'compact', readChunkBytes: 200 }));
  fill(d, 60);
  d.push(d.log.roll());
  d.drain();
  const before = new Set(dump(d).map(key));
  d.push(d.log.read(0, 1 << 20, Infinity, 99));
  d.push(d.log.compact(d.stamp()));
  d.drain();
  assert.ok(d.take('compacted').length > 0, 'something was cleaned');
  const [ev] = d.take('read');
  assert.ok(ev !== undefined && ev.kind === 'read');
  assert.equal(ev.result.error, 'NONE');
  const got = batchesIn(ev.result.chunks);
  assert.ok(got.length > 0);
  for (const b of got) {
    const dec0 = decodeBatch(b, 0);
    assert.ok(!('error' in dec0));
    for (const rec of dec0.records) assert.ok(before.has(key([rec.offset, dec.decode(rec.key!), rec.value === null ? null : dec.decode(rec.value)])), `record ${rec.offset} as appended`);
  }
});

// LOG-14 (found in review): a swap waited until no read walk was open, and consumers re-fetching
// back to back always kept one open: the swap never ran, compaction held busyJobs, truncateTo
// waited for it, and appends answered NOT_READY for as long as the reads went on.
test('LOG-14: reads arriving while a compaction swap waits queue behind it; compaction, truncation and appends go on', () => {
  const one = (ts: number, k: string): Uint8Array => batch(ts, [[k, '\0'.repeat(50)]]); // a 50-byte value of zeroes
  const { d } = newDriver('log14', smallConfig({ cleanupPolicy: 'compact', readChunkBytes: 128 }));
  for (let i = 0; i < 60; i++) d.appendDrained(one(1000 + i, `k${i % 5}`));
  d.push(d.log.roll());
  d.drain();
  d.appendDrained(one(2000, 'z'));
  d.log.setHighWatermark(d.log.logEndOffset);
  d.push(d.log.compact(d.stamp()));
  let token = 1;
  let open = 0;
  for (let i = 0; i < 2000; i++) {
    while (open < 2 && i > 5) {
      d.push(d.log.read(i % 2 === 0 ? 0 : 20, 600, Infinity, token++)); // two consumers on disk, back to back
      open++;
    }
    d.stepOne();
    open -= d.take('read').length;
    if (i === 100) d.push(d.log.truncateTo(d.log.logEndOffset - 1));
  }
  assert.ok(d.take('compacted').length > 0, 'compaction swapped in while the reads went on');
  assert.ok(d.take('truncated').length > 0, 'the truncation ran');
  assert.equal(d.log.append(one(3000, 'y'), 0, d.stamp()).error, 'NONE');
});

// CMP-6 (found in review): tombstones were dropped once wall - segment.maxTimestamp exceeded
// delete.retention.ms, the records' own (producer) timestamps: a tombstone written moments ago
// with an old CreateTime went at the first pass, and a consumer reading from the start just
// before it could miss the delete. Kafka drops them only delete.retention.ms after the first
// pass that saw them (KIP-534's delete horizon), by the broker's clock.
test('CMP-6: a tombstone survives the first pass whatever its timestamp, and goes delete.retention.ms after it', () => {
  const day = 24 * 3600 * 1000;
  const { d } = newDriver('cmp6', smallConfig({ cleanupPolicy: 'compact', deleteRetentionMs: day }));
  d.wall = 10 * day;
  d.appendDrained(keyedBatch([['k1', 'a', d.wall - 3 * day]])); // 0
  d.appendDrained(keyedBatch([['k1', null, d.wall - 2 * day], ['k2', 'b', d.wall - 2 * day]])); // 1: a tombstone with an old CreateTime
  d.push(d.log.roll());
  d.drain();
  d.appendDrained(keyedBatch([['k9', 'z', d.wall]])); // active
  d.log.setHighWatermark(d.log.logEndOffset);
  const offsets = (): number[] => batchesIn(d.read(0, 1 << 20).chunks).flatMap((b) => {
    const x = decodeBatch(b, 0);
    return 'error' in x ? [] : x.records.map((r) => r.offset);
  });
  d.push(d.log.compact(d.stamp()));
  d.drain();
  assert.ok(offsets().includes(1), 'kept by the first pass');
  assert.ok(!offsets().includes(0), 'the value it deletes is gone');
  d.wall += day / 2;
  d.push(d.log.compact(d.stamp()));
  d.drain();
  assert.ok(offsets().includes(1), 'kept within delete.retention.ms of the first pass');
  d.wall += day;
  d.push(d.log.compact(d.stamp()));
  d.drain();
  assert.ok(!offsets().includes(1), 'dropped after it');
});
