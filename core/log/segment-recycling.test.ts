// Directed tests of segment recycling (REC-LOG, SEG-4 in partition-log.ts); the model property
// runs it with crashes and faults (log-property.test.ts, `sweep-log.ts --recycle`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { baseOffsetAt } from '../records/batch-header.ts';
import { writeLength } from '../io.ts';
import type { LogConfig } from './config.ts';
import { PartitionLog, TERMINATOR_IDLE_MS } from './partition-log.ts';
import { batchesIn, makeBatch, newDriver, smallConfig, type LogDriver } from './log-harness.test.ts';

const files = (d: LogDriver): { name: string; size: number }[] => {
  const r = d.disk.execute({ kind: 'list', dir: d.config.dir });
  if (!r.ok) throw new Error('list failed');
  return (r.result.entries ?? []).map((e) => ({ name: e.name, size: e.size }));
};
const slots = (d: LogDriver): string[] => files(d).filter((f) => f.name.endsWith('.log.recycle')).map((f) => f.name);
const logs = (d: LogDriver): string[] => files(d).filter((f) => f.name.endsWith('.log')).map((f) => f.name);

const appendN = (d: LogDriver, n: number, tag: number): void => {
  for (let i = 0; i < n; i++) assert.equal(d.appendDrained(makeBatch(2, d.wall, tag + i, 100), 1).error, 'NONE');
};

const recyclingConfig = smallConfig({ segmentRecycling: true, retentionBytes: 4096, retentionMs: -1 });

test('retention renames whole segments into at most 2 slots; rolls reuse them', () => {
  const { d } = newDriver('recycle-1', recyclingConfig);
  appendN(d, 80, 0); // ~20 KiB: several 4 KiB segments
  assert.ok(d.log.segments.length >= 4);
  d.retain();
  assert.equal(slots(d).length, 2, 'two slots kept, the other deleted segments removed');
  assert.equal(d.log.recycled.length, 2);
  const before = new Set(logs(d));
  appendN(d, 40, 1000); // at least one roll
  assert.ok(slots(d).length < 2, 'a roll consumed a slot');
  assert.ok(logs(d).some((n) => !before.has(n)));
  // Every .log is a live segment; the reused file reads back exactly what was appended.
  const r = d.read(d.log.logStartOffset, 1 << 20);
  assert.equal(r.error, 'NONE');
});

interface ReuseOptions {
  readonly config?: LogConfig;
  /** Appends into the reused file at the end (default 5). */
  readonly tail?: number;
  /** One durable append of the batch tagged `tag` (default `appendN`'s). */
  readonly append?: (d: LogDriver, tag: number) => void;
  /** What moves the log start up so segments go to slots (default a retention pass). */
  readonly retain?: (d: LogDriver) => void;
}

/** A log whose active segment was made from a recycled file: three rounds of 60 appends and a
 *  retention pass, appends until a roll reuses a slot, then `tail` commits into the reused file. */
const intoReusedFile = (name: string, o: ReuseOptions = {}): LogDriver => {
  const { d } = newDriver(name, o.config ?? recyclingConfig);
  const append = o.append ?? ((dd: LogDriver, tag: number): void => appendN(dd, 1, tag));
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 60; i++) append(d, round * 1000 + i);
    (o.retain ?? ((dd: LogDriver): void => dd.retain()))(d);
  }
  for (let i = 0; i < 100 && !d.log.activeSegment.dirtyTail; i++) append(d, 5000 + i); // roll into a slot
  for (let i = 0; i < (o.tail ?? 5); i++) append(d, 6000 + i);
  assert.ok(d.log.activeSegment.dirtyTail, 'the active segment was made from a recycled file');
  return d;
};

test('a reused file holds stale batches past the logical end: at rest a terminator ends the scan, no corruption', () => {
  const d = intoReusedFile('recycle-2');
  const end = d.log.logEndOffset;
  const active = d.log.activeSegment;
  // SEG-4: idle long enough, a tick writes the terminator (one durable write at the end).
  d.now += TERMINATOR_IDLE_MS;
  d.push(d.log.tick(d.stamp()));
  assert.deepEqual(d.pending.map((p) => [p.op.op.kind, 'offset' in p.op.op ? p.op.op.offset : -1]), [['write', active.sizeBytes]]);
  d.drain();
  d.push(d.log.tick(d.stamp()));
  assert.equal(d.pending.length, 0, 'terminated once');
  d.take('corruption');
  d.crash();
  d.drain();
  assert.equal(d.log.state, 'ready');
  assert.equal(d.log.logEndOffset, end);
  assert.deepEqual(d.take('corruption'), [], 'SEG-4: the terminator ends the scan, stale data is never read');
  const size = files(d).find((f) => f.name === active.logFile.slice(d.config.dir.length + 1))?.size ?? -1;
  assert.equal(size, d.config.segmentBytes, 'the file keeps its allocation (not truncated to the logical end)');
  appendN(d, 30, 9000);
  const r = d.read(d.log.logStartOffset, 1 << 20);
  assert.equal(r.error, 'NONE');
});

test('SEG-4: a crash while busy (no terminator yet) meets stale batches past the durable end: truncated there as a torn tail', () => {
  const d = intoReusedFile('recycle-busy');
  const end = d.log.logEndOffset;
  const active = d.log.activeSegment;
  d.take('corruption');
  d.crash(); // no tick, no flush: nothing but stale bytes follows the durable end
  d.drain();
  assert.equal(d.log.state, 'ready');
  assert.equal(d.log.logEndOffset, end, 'everything durable kept; the stale batch fails the offset check (REC-LOG)');
  assert.equal(d.take('corruption').length, 1, 'reported as a torn tail');
  const size = files(d).find((f) => f.name === active.logFile.slice(d.config.dir.length + 1))?.size ?? -1;
  assert.equal(size, d.config.segmentBytes, 'the file keeps its allocation');
  appendN(d, 3, 9000);
  assert.deepEqual(batchesIn(d.read(end, 1 << 20).chunks).map((b) => baseOffsetAt(b, 0)), [end, end + 2, end + 4]);
});

test('REC-LOG: a slot is not reused by a segment below its bound (after a full truncation)', () => {
  const { d } = newDriver('recycle-3', recyclingConfig);
  appendN(d, 80, 0);
  d.retain();
  const bounds = d.log.recycled.map((s) => s.bound);
  assert.ok(bounds.length > 0);
  d.push(d.log.truncateTo(0)); // below the first segment: the log restarts at 0
  d.drain();
  assert.equal(d.log.logEndOffset, 0);
  appendN(d, 40, 500);
  for (const s of d.log.segments) {
    if (s.dirtyTail) assert.ok(bounds.filter((b) => b <= s.baseOffset).length > 0, 'reused only at or above a bound');
  }
  assert.equal(d.read(0, 1 << 20).error, 'NONE');
});

test('with segmentRecycling off (the default) leftover slots are removed at recovery', () => {
  const { d } = newDriver('recycle-4', recyclingConfig);
  appendN(d, 80, 0);
  d.retain();
  assert.ok(slots(d).length > 0);
  (d as { config: unknown }).config = smallConfig({ retentionBytes: 4096, retentionMs: -1 });
  d.crash();
  d.drain();
  assert.equal(d.log.state, 'ready');
  assert.deepEqual(slots(d), []);
});

test('a crash at every step of a retention pass and of a roll into a slot recovers a consistent log', () => {
  for (let k = 0; k < 60; k++) {
    const { d } = newDriver('recycle-5', recyclingConfig);
    appendN(d, 70, 0);
    // Retention (segments -> slots) and then appends that roll into a slot, all left pending.
    d.log.setHighWatermark(d.log.logEndOffset);
    d.push(d.log.applyRetention(d.stamp()));
    let rolled = false;
    for (let i = 0; i < 40 && !rolled; i++) {
      const segs = d.log.segments.length;
      const r = d.log.append(makeBatch(2, d.wall, 7000 + i, 100), 1, d.stamp());
      assert.equal(r.error, 'NONE');
      d.push(r.effects);
      d.stepOne();
      rolled = d.log.segments.length > segs;
    }
    const durable = d.log.durableOffset;
    for (let i = 0; i < k && d.stepOne(); i++);
    const durableAtCrash = Math.max(durable, d.log.durableOffset);
    d.crash();
    d.drain();
    d.restartUntilReady(5);
    assert.equal(d.log.state, 'ready', `k=${k}`);
    assert.ok(d.log.logEndOffset >= durableAtCrash, `LOG-2 at k=${k}`);
    assert.ok(slots(d).length <= 2, `k=${k}`);
    appendN(d, 40, 8000); // rolls again (possibly into a slot)
    let at = d.log.logStartOffset;
    for (let guard = 0; guard < 1000 && at < d.log.logEndOffset; guard++) {
      const r = d.read(at, 1 << 20);
      assert.equal(r.error, 'NONE', `k=${k} read at ${at}`);
      assert.ok(r.chunks.length > 0, `k=${k} read at ${at}`);
      for (const b of batchesIn(r.chunks)) {
        const base = baseOffsetAt(b, 0);
        assert.equal(base, at, `k=${k} dense offsets`);
        at = base + 2;
      }
    }
    assert.equal(at, d.log.logEndOffset, `k=${k}`);
  }
});

test('LOG-4 / SEG-4: commits to a recycled segment overlap; flush() writes the terminator, and a commit right behind it waits for it on the disk', () => {
  const d = intoReusedFile('recycle-pipe', { config: { ...recyclingConfig, commitDepth: 2 }, tail: 2 });
  d.push(d.log.append(makeBatch(2, d.wall, 7001, 100), 1, d.stamp()).effects);
  d.push(d.log.append(makeBatch(2, d.wall, 7002, 100), 1, d.stamp()).effects);
  assert.deepEqual(d.pending.map((p) => p.op.op.kind), ['write', 'write'], 'the second commit overlaps the first');
  const ends = d.pending.map((p) => (p.op.op.kind === 'write' ? p.op.op.offset + writeLength(p.op.op.data) : -1));
  assert.equal(ends[0], d.pending[1]!.op.op.kind === 'write' ? d.pending[1]!.op.op.offset : -1, 'no terminator between them');
  d.drain();
  assert.equal(d.log.durableOffset, d.log.logEndOffset);
  // At rest, flush() terminates at once; an append right behind it is a second durable write in
  // flight (the disk runs it after the terminator, whose bytes it overwrites: core/io.ts).
  d.push(d.log.flush());
  assert.deepEqual(d.pending.map((p) => p.op.op.kind), ['write']);
  const end = d.log.activeSegment.sizeBytes;
  d.push(d.log.append(makeBatch(2, d.wall, 7003, 100), 1, d.stamp()).effects);
  assert.deepEqual(d.pending.map((p) => (p.op.op.kind === 'write' ? p.op.op.offset : -1)), [end, end]);
  d.drain();
  assert.equal(d.log.durableOffset, d.log.logEndOffset);
  assert.equal(batchesIn(d.read(d.log.logEndOffset - 2, 1 << 20).chunks).length, 1);
});

/**
 * SEG-5's case on `d` (commitDepth 2, ready, the commits below pipelined): two commits A and B in
 * flight, power lost with B landed and A not; recovery stops where A should have been. Then A',
 * exactly A's size, lands whole and power is lost again: had recovery left B's bytes past the
 * recovered end, B would now follow A' with the very next offset and a valid CRC.
 */
const pipelinedCommitLandedPastALostOne = (d: LogDriver): void => {
  const end = d.log.logEndOffset;
  d.push(d.log.append(makeBatch(2, d.wall, 7001, 100), 1, d.stamp()).effects);
  d.push(d.log.append(makeBatch(2, d.wall, 7002, 100), 1, d.stamp()).effects);
  assert.deepEqual(d.pending.map((p) => p.op.op.kind), ['write', 'write'], 'A and B in flight together');
  assert.ok(d.disk.execute(d.pending[1]!.op.op).ok); // B lands, A does not
  d.pending = [];
  d.disk.crash();
  d.boot();
  d.drain();
  assert.equal(d.log.state, 'ready');
  assert.equal(d.log.logEndOffset, end, 'recovery stops where A should have been');
  d.push(d.log.append(makeBatch(2, d.wall, 7003, 100), 1, d.stamp()).effects); // A'
  assert.equal(d.pending.length, 1);
  assert.ok(d.disk.execute(d.pending[0]!.op.op).ok);
  d.pending = [];
  d.disk.crash();
  d.boot();
  d.drain();
  assert.equal(d.log.logEndOffset, end + 2, 'B (never acknowledged, declared lost) stays lost');
  assert.deepEqual(batchesIn(d.read(end, 1 << 20).chunks).map((b) => baseOffsetAt(b, 0)), [end]);
};

test('SEG-5: a pipelined commit that landed past a lost one is not resurrected after recovery', () => {
  // On a segment with a clean tail (a fresh file); recycled ones below.
  const { d } = newDriver('recycle-seg5', smallConfig({ segmentRecycling: false, retentionMs: -1, commitDepth: 2 }));
  appendN(d, 2, 6000);
  pipelinedCommitLandedPastALostOne(d);
});

// SEG-5 once re-zeroed only commitDepth x (pipelineMaxBytes + 12) bytes past the recovered end of a
// recycled segment; with flush.messages > 1 unsynced commits can lie further out (found in review).
test('SEG-5 with flush.messages > 1 and recycling: a lost unsynced write never comes back after a later crash', () => {
  const hits: string[] = [];
  for (let seed = 1; seed <= 60 && hits.length === 0; seed++) {
    const cfg = smallConfig({ segmentRecycling: true, retentionBytes: 4096, flushMessages: 4, pipelineMaxBytes: 64, commitDepth: 2 });
    const { d } = newDriver(`seg5-${seed}`, cfg, { tornWriteRate: 1 });
    // fill, retain (recycle), and roll into a recycled file
    for (let i = 0; i < 200 && d.log.recycled.length === 0; i++) {
      d.appendDrained(makeBatch(2, 100, i, 60));
      d.push(d.log.flush());
      d.drain();
      d.retain();
    }
    if (d.log.recycled.length === 0) continue;
    while (!d.log.activeSegment.dirtyTail) {
      d.appendDrained(makeBatch(2, 100, 7, 60));
      d.push(d.log.flush());
      d.drain();
    }
    const e = d.log.logEndOffset;
    // history 1: three unsynced single-record commits (w1, w2, w3), then power loss
    for (const t of [11, 12, 13]) d.appendDrained(makeBatch(1, 100, t, 40));
    assert.equal(d.log.durableOffset, e);
    d.crash();
    d.drain();
    if (d.log.state !== 'ready' || d.log.logEndOffset !== e) continue;
    // history 2: w1' durable, w2' written (unsynced), power loss
    d.appendDrained(makeBatch(1, 100, 21, 40));
    d.push(d.log.flush());
    d.drain();
    d.appendDrained(makeBatch(1, 100, 22, 40));
    d.crash();
    d.drain();
    if (d.log.state !== 'ready') continue;
    if (d.log.logEndOffset > e + 2) {
      const r = d.read(e + 2, 1 << 20);
      const b = batchesIn(r.chunks)[0];
      hits.push(`seed ${seed}: LEO ${d.log.logEndOffset} > ${e + 2}: offset ${b === undefined ? '?' : baseOffsetAt(b, 0)} (holds w3's value 13 x 40: ${b !== undefined && Buffer.from(b).includes(Buffer.alloc(40, 13))}; w1' value 21: ${b !== undefined && Buffer.from(b).includes(Buffer.alloc(40, 21))}) is w3 from before the first crash, never re-appended`);
    }
  }
  assert.deepEqual(hits, []);
});

// Found in review (seventh session, .scratch/review7-log/): tick() threw on a log that was not
// ready; flush() wrote no terminator when a commit was in flight (or was itself the sync), so a
// clean shutdown reported a torn tail at restart; idle time counted from a commit's emission.

test('SEG-4: tick() on a log that is not ready (new, recovering, failed before it had segments) does nothing', () => {
  const cfg = smallConfig({ segmentRecycling: true });
  const fresh = new PartitionLog(cfg);
  assert.deepEqual(fresh.tick({ now: 100, wall: 1 }), []);
  fresh.start({ now: 0, wall: 1 });
  assert.equal(fresh.state, 'recovering');
  assert.deepEqual(fresh.tick({ now: 200, wall: 1 }), []);
  const failed = new PartitionLog(cfg);
  const [list] = failed.start({ now: 0, wall: 1 });
  assert.ok(list !== undefined && list.tag === 'Disk');
  failed.onDisk({ tag: 'DiskFailed', id: list.id, error: 'EIO' });
  assert.equal(failed.state, 'failed');
  assert.deepEqual(failed.tick({ now: 300, wall: 1 }), []);
  assert.deepEqual(failed.flush(), []);
  assert.deepEqual(failed.uncork(), []);
});

/** A clean shutdown: every op completes, then the process stops; the restart's corruption reports. */
const restartAfterShutdown = (d: LogDriver): number => {
  d.drain();
  assert.equal(d.log.durableOffset, d.log.logEndOffset, 'everything durable before shutdown');
  d.take('corruption');
  d.crash(); // nothing pending: as a process exit after its flush completed
  d.drain();
  assert.equal(d.log.state, 'ready');
  return d.take('corruption').length;
};

test('SEG-4: flush() with a commit in flight terminates once that commit completes (a clean shutdown restarts clean)', () => {
  const d = intoReusedFile('recycle-flush-inflight');
  d.push(d.log.append(makeBatch(2, d.wall, 9000, 100), 1, d.stamp()).effects); // in flight
  d.push(d.log.flush()); // the host's shutdown flush
  assert.equal(restartAfterShutdown(d), 0);
});

test('SEG-4: under flush.messages > 1, flush() is the sync and the terminator follows it', () => {
  const flushed = (dd: LogDriver, tag: number): void => {
    dd.push(dd.log.append(makeBatch(2, dd.wall, tag, 100), 1, dd.stamp()).effects);
    dd.push(dd.log.flush());
    dd.drain();
  };
  const d = intoReusedFile('recycle-flush-msgs', { config: { ...recyclingConfig, flushMessages: 100, flushMs: -1 }, tail: 0, append: flushed });
  d.push(d.log.append(makeBatch(2, d.wall, 9000, 100), 1, d.stamp()).effects); // unsynced write
  d.push(d.log.flush());
  assert.equal(restartAfterShutdown(d), 0);
});

test('SEG-4: idle time counts from the last commit\'s completion, not its emission', () => {
  const d = intoReusedFile('recycle-idle');
  d.now += 1000;
  d.push(d.log.tick(d.stamp())); // long at rest: the terminator
  d.drain();
  d.push(d.log.append(makeBatch(2, d.wall, 1, 100), 1, d.stamp()).effects);
  d.now += TERMINATOR_IDLE_MS + 10; // a slow sync: it completes 60 ms after it was emitted
  d.stepOne();
  assert.equal(d.pending.length, 0);
  d.push(d.log.tick(d.stamp()));
  assert.equal(d.pending.length, 0, 'at rest for 0 ms: no terminator yet');
  d.now += TERMINATOR_IDLE_MS;
  d.push(d.log.tick(d.stamp()));
  assert.equal(d.pending.length, 1, 'at rest long enough: the terminator');
});

for (const policy of ['delete', 'compact'] as const) {
  test(`SEG-5 on a recycled segment (${policy}): a pipelined commit that landed past a lost one is not resurrected`, () => {
    const retain = (dd: LogDriver): void => {
      if (policy === 'delete') return dd.retain();
      dd.log.setHighWatermark(dd.log.logEndOffset);
      dd.push(dd.log.deleteRecords(dd.log.logEndOffset - 1, dd.stamp()).effects);
      dd.drain();
    };
    const d = intoReusedFile(`seg5r-${policy}`, { config: { ...recyclingConfig, commitDepth: 2, cleanupPolicy: policy }, tail: 2, retain });
    pipelinedCommitLandedPastALostOne(d);
  });
}

test('SEG-4: a crash with the terminator in flight and a commit behind it keeps the durable end (40 disk seeds)', () => {
  for (let seed = 0; seed < 40; seed++) {
    const d = intoReusedFile(`term-${seed}`);
    const end = d.log.logEndOffset;
    d.now += 2 * TERMINATOR_IDLE_MS;
    d.push(d.log.tick(d.stamp()));
    assert.equal(d.pending.length, 1, 'the terminator');
    d.push(d.log.append(makeBatch(2, d.wall, 8000, 100), 1, d.stamp()).effects);
    assert.equal(d.pending.length, 2, 'a commit behind it');
    d.crash();
    d.drain();
    assert.equal(d.log.state, 'ready');
    assert.equal(d.log.logEndOffset, end);
    assert.equal(d.read(d.log.logStartOffset, 1 << 20).error, 'NONE');
  }
});
