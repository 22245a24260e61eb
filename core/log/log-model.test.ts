// Model-based property runner for the partition log (no tests of its own; see
// log-property.test.ts and scripts/sweep-log.ts). fast-check commands drive a PartitionLog on a
// SimDisk (crashes lose unsynced writes and tear the last one; optional read bit-flips, read
// errors and fsync failures) against a plain in-memory model: the list of batches appended,
// their stamped bytes, and the log start offset.
// Checked: reads equal the model bit-exact (LOG-3), also a read overtaken by a truncation,
// retention pass or compaction (LOG-12, LOG-13: against the log before or after it); after crash + recovery everything below the
// pre-crash durable offset survives bit-exact (LOG-2) and nothing beyond the model appears; a
// corrupted tail batch is detected and truncated exactly at its base offset (SCAN-1).
import fc from 'fast-check';
import assert from 'node:assert/strict';
import type { DiskFaultConfig } from '../../sim/disk.ts';
import { concatBytes } from '../bytes.ts';
import { baseOffsetAt, batchSizeAt, lastOffsetDeltaAt, leaderEpochAt } from '../records/batch-header.ts';
import { batchesIn, makeBatch, newDriver, smallConfig, type LogDriver } from './log-harness.test.ts';
import type { ReadResult } from './log-types.ts';
import { decodeBatch } from '../records/batch.ts';
import { RECYCLE_SLOTS } from './segment.ts';
import { TERMINATOR_IDLE_MS } from './partition-log.ts';

interface MRecord {
  readonly offset: number;
  readonly key: string;
  readonly value: string;
  readonly timestamp: number;
}

interface MBatch {
  readonly base: number;
  readonly last: number;
  readonly bytes: Uint8Array;
  readonly records: readonly MRecord[];
}

const hex = (b: Uint8Array | null): string => (b === null ? 'null' : Buffer.from(b).toString('hex'));

const recordsOf = (batch: Uint8Array): MRecord[] => {
  const d = decodeBatch(batch, 0, { verifyCrc: false });
  assert.ok(!('error' in d), 'decodable batch');
  return d.records.map((r) => ({ offset: r.offset, key: hex(r.key), value: hex(r.value), timestamp: r.timestamp }));
};

export interface Model {
  batches: MBatch[];
  leo: number;
  epoch: number;
  /** Compact mode: the log end when compaction last ran; truncation stays above it (as Kafka's
   *  does above the high watermark the cleaner is bounded by). */
  cleanedUpTo?: number;
}

export interface Real {
  d: LogDriver;
  faults: boolean;
  /** cleanup.policy=compact: reads are checked record by record (after ⊆ read ⊆ appended). */
  compact: boolean;
}

/** Compact mode: every record read was appended with that offset, key and value. */
const checkRecords = (m: Model, got: Uint8Array[]): void => {
  const byOffset = new Map<number, MRecord>();
  for (const b of m.batches) for (const r of b.records) byOffset.set(r.offset, r);
  let prev = -1;
  for (const b of got) {
    for (const r of recordsOf(b)) {
      const want = byOffset.get(r.offset);
      assert.ok(want !== undefined && want.key === r.key && want.value === r.value, `record ${r.offset} as appended`);
      assert.ok(r.offset > prev, 'records in offset order');
      prev = r.offset;
    }
  }
};

type Cmd = fc.Command<Model, Real>;

const modelBatchAt = (m: Model, base: number): MBatch | undefined => m.batches.find((b) => b.base === base);

/**
 * Restarts (without power loss) a log that went offline after an injected disk fault; what was
 * not durable may be gone (a failed fsync drops dirty pages), so the model follows the recovered
 * log, after checking LOG-2 against the durable offset reached before the failure.
 */
const healthy = (m: Model, r: Real): void => {
  if (r.d.log.state !== 'failed') return;
  const durable = r.d.log.durableOffset;
  r.d.restartUntilReady();
  assert.equal(r.d.log.state, 'ready', 'log recovers after a restart');
  reconcile(m, r, durable);
};

/** After a recovery: LOG-2 (durable prefix kept), nothing invented; the model follows the log. */
const reconcile = (m: Model, r: Real, durable: number): void => {
  const log = r.d.log;
  assert.ok(log.logEndOffset >= durable, `LOG-2 durable ${durable} survives (LEO ${log.logEndOffset})`);
  assert.ok(log.logEndOffset <= m.leo, `nothing beyond what was appended (LEO ${log.logEndOffset}, appended ${m.leo})`);
  const cut = m.batches.findIndex((b) => b.base >= log.logEndOffset);
  if (cut >= 0) m.batches = m.batches.slice(0, cut);
  const lastEnd = m.batches.length > 0 ? m.batches[m.batches.length - 1].last + 1 : log.logEndOffset;
  assert.equal(log.logEndOffset, lastEnd, 'LEO on a batch boundary');
  m.leo = log.logEndOffset;
};

/** Reads [logStart, leo) in full and checks every batch against the model, bit-exact. */
const checkAll = (m: Model, r: Real): void => {
  if (r.compact) return checkAllCompact(m, r);
  const log = r.d.log;
  let fetch = log.logStartOffset;
  for (let guard = 0; fetch < log.logEndOffset; guard++) {
    assert.ok(guard < 10_000, 'read loop bounded');
    const res = r.d.read(fetch, 8192);
    if (res.error === 'KAFKA_STORAGE_ERROR' && r.faults) continue; // injected EIO / persistent flips: retry
    assert.equal(res.error, 'NONE', `read at ${fetch}`);
    const got = batchesIn(res.chunks, true);
    assert.ok(got.length > 0, `read at ${fetch} returns at least one batch`);
    for (const b of got) {
      const base = baseOffsetAt(b, 0);
      const want = modelBatchAt(m, base);
      assert.ok(want !== undefined, `batch ${base} is in the model`);
      // No gaps (no compaction here): each batch holds the offset asked for next, so the first
      // one may start below the fetch offset and every later one starts right after the last.
      assert.ok(base <= fetch && fetch <= want.last, `contiguous: batch ${base}..${want.last} holds ${fetch}`);
      sameBatch(b, want.bytes, r.faults, `batch ${base} bit-exact`);
      fetch = want.last + 1;
    }
  }
};

/**
 * Compact mode under read bit-flips: a flipped baseOffset bit (outside the CRC, and compacted
 * logs have gaps, so it cannot be caught by offset density) shifts a batch's offsets. Such flips
 * are in flight, not at rest: a read that does not match the model is retried.
 */
const readLooksRight = (m: Model, got: Uint8Array[], fetch: number): boolean => {
  try {
    checkRecords(m, got);
    return got.length > 0 || fetch >= m.leo;
  } catch {
    return false;
  }
};

/** Compact mode: read everything; records ⊆ appended, and every key's latest record is there. */
const checkAllCompact = (m: Model, r: Real): void => {
  const log = r.d.log;
  const seen = new Set<number>();
  const got: Uint8Array[] = [];
  let fetch = log.logStartOffset;
  for (let guard = 0; fetch < log.logEndOffset; guard++) {
    assert.ok(guard < 10_000, 'read loop bounded');
    const res = r.d.read(fetch, 8192);
    if (res.error === 'KAFKA_STORAGE_ERROR' && r.faults) continue;
    assert.equal(res.error, 'NONE', `read at ${fetch}`);
    const batches = batchesIn(res.chunks, true);
    if (r.faults && guard < 50 && !readLooksRight(m, batches, fetch)) continue; // a flip in flight: read again
    if (batches.length === 0) break;
    for (const b of batches) {
      got.push(b);
      for (const rec of recordsOf(b)) seen.add(rec.offset);
      fetch = baseOffsetAt(b, 0) + lastOffsetDeltaAt(b, 0) + 1;
    }
  }
  checkRecords(m, got);
  const latest = new Map<string, number>();
  for (const b of m.batches) for (const rec of b.records) if (rec.offset >= log.logStartOffset) latest.set(rec.key, rec.offset);
  for (const [key, offset] of latest) assert.ok(seen.has(offset), `latest record of key ${key} (offset ${offset}) kept`);
};

/**
 * Bit-exact comparison. With injected read bit-flips, a flip inside partitionLeaderEpoch (bytes
 * 12..15, outside the CRC in Kafka's format, so undetectable) is tolerated; any other difference fails.
 */
const sameBatch = (got: Uint8Array, want: Uint8Array, faults: boolean, what: string): void => {
  if (faults && got.length === want.length) {
    const diff: number[] = [];
    for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) diff.push(i);
    if (diff.length > 0 && diff.every((i) => i >= 12 && i < 16)) return;
  }
  assert.deepEqual(got, want, what);
};

const checkInvariants = (m: Model, r: Real): void => {
  const log = r.d.log;
  if (log.state !== 'ready') return;
  assert.equal(log.logEndOffset, m.leo, 'LEO matches the model');
  assert.ok(log.durableOffset <= log.logEndOffset, 'LOG-3 durable <= LEO');
  assert.ok(log.logStartOffset <= log.logEndOffset, 'LOG-3 logStart <= LEO');
};

/**
 * After a crash (CKPT-2): the recovered leader-epoch cache answers OffsetForLeaderEpoch for every
 * epoch of the retained batches as the model does: the base of the first batch of a later epoch,
 * or the log end. (Compacted logs keep epochs of batches compaction removed: not checked there.)
 */
const checkEpochs = (m: Model, r: Real): void => {
  const log = r.d.log;
  if (log.state !== 'ready' || r.compact) return;
  const kept = m.batches.filter((b) => b.base >= log.logStartOffset);
  kept.forEach((b, i) => {
    const epoch = leaderEpochAt(b.bytes, 0);
    const next = kept.slice(i + 1).find((n) => leaderEpochAt(n.bytes, 0) > epoch);
    assert.deepEqual(log.epochs.cache.endOffsetFor(epoch, m.leo), { epoch, endOffset: next?.base ?? m.leo }, `epoch ${epoch} (batch ${b.base}) after recovery`);
  });
};

export class AppendCmd implements Cmd {
  constructor(
    readonly counts: number[],
    readonly valueBytes: number,
    readonly bumpEpoch: boolean,
    readonly drain: boolean,
  ) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    healthy(m, r);
    const parts = this.counts.map((c, i) => makeBatch(c, r.d.wall + i, m.leo + i, this.valueBytes, r.compact ? (m.leo + i) % 5 : -1));
    const all = concatBytes(parts);
    if (this.bumpEpoch) m.epoch++;
    const res = r.d.log.append(all, m.epoch, r.d.stamp());
    r.d.push(res.effects);
    if (res.error === 'NONE') {
      assert.equal(res.baseOffset, m.leo);
      for (let off = 0; off < all.length; ) {
        const size = batchSizeAt(all, off);
        const base = baseOffsetAt(all, off);
        const last = base + lastOffsetDeltaAt(all, off);
        const bytes = all.slice(off, off + size);
        m.batches.push({ base, last, bytes, records: recordsOf(bytes) });
        off += size;
      }
      m.leo = res.lastOffset + 1;
    } else {
      assert.ok(r.faults || res.error === 'BUFFER_FULL', `append failed: ${res.error}`);
    }
    if (this.drain) r.d.drain();
    checkInvariants(m, r);
  }
  toString = (): string => `append(${this.counts.join(',')}x${this.valueBytes}${this.bumpEpoch ? ',bump' : ''}${this.drain ? ',drain' : ''})`;
}

export class StepCmd implements Cmd {
  constructor(readonly n: number) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    for (let i = 0; i < this.n; i++) r.d.stepOne();
    checkInvariants(m, r);
  }
  toString = (): string => `step(${this.n})`;
}

/**
 * One read's answer against `m` (batches as of when it was answered, log end `leo`): bit-exact
 * batches from the one holding `fetch` on (records as appended, in compact mode), `maxBytes`
 * honoured beyond the first batch.
 */
const checkReadAnswer = (m: Model, r: Real, fetch: number, maxBytes: number, res: ReadResult, leo: number): void => {
  if (res.error === 'KAFKA_STORAGE_ERROR' && r.faults) return;
  if (fetch > leo) return assert.equal(res.error, 'OFFSET_OUT_OF_RANGE');
  assert.equal(res.error, 'NONE');
  const got = batchesIn(res.chunks, true);
  if (fetch === leo) return assert.equal(got.length, 0);
  if (r.compact) {
    if (r.faults && !readLooksRight(m, got, fetch)) return; // a flip in flight (see readLooksRight)
    checkRecords(m, got);
    if (got.length > 0) assert.ok(baseOffsetAt(got[0], 0) + lastOffsetDeltaAt(got[0], 0) >= fetch);
    return;
  }
  assert.ok(got.length > 0, 'at least one batch');
  const first = m.batches.findIndex((b) => b.last >= fetch);
  let total = 0;
  got.forEach((b, i) => {
    const want = m.batches[first + i];
    assert.ok(want !== undefined, 'no batch beyond the model');
    sameBatch(b, want.bytes, r.faults, `read batch ${want.base} bit-exact`);
    total += b.length;
  });
  assert.ok(got.length === 1 || total <= maxBytes, 'maxBytes honoured beyond the first batch');
};

export class ReadCmd implements Cmd {
  constructor(
    readonly frac: number,
    readonly maxBytes: number,
  ) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.d.drain();
    healthy(m, r);
    const log = r.d.log;
    const fetch = log.logStartOffset + Math.floor(this.frac * (log.logEndOffset - log.logStartOffset + 1));
    checkReadAnswer(m, r, fetch, this.maxBytes, r.d.read(fetch, this.maxBytes), log.logEndOffset);
    checkInvariants(m, r);
  }
  toString = (): string => `read(${this.frac.toFixed(3)},${this.maxBytes})`;
}

/**
 * LOG-12: a read started, `steps` disk ops run, then a truncation (at `cutFrac`), a retention
 * pass or a compaction starts while the read may still be walking the segment. An answer given
 * before the truncation took effect is checked against the log before it, any later one against
 * the log after it (linearizable); retention may answer OFFSET_OUT_OF_RANGE for what it deleted.
 */
export class ReadRaceCmd implements Cmd {
  constructor(
    readonly frac: number,
    readonly maxBytes: number,
    readonly steps: number,
    readonly against: 'truncate' | 'retention' | 'compact',
    readonly cutFrac: number,
  ) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.d.drain();
    healthy(m, r);
    const log = r.d.log;
    const fetch = log.logStartOffset + Math.floor(this.frac * (log.logEndOffset - log.logStartOffset));
    const before: Model = { ...m, batches: m.batches.slice() };
    const leoBefore = log.logEndOffset;
    const token = 7e9;
    const mark = r.d.events.length;
    r.d.push(log.read(fetch, this.maxBytes, Infinity, token));
    for (let i = 0; i < this.steps; i++) r.d.stepOne();
    let cut = -1;
    if (this.against === 'truncate') {
      cut = log.logStartOffset + Math.floor(this.cutFrac * (log.logEndOffset - log.logStartOffset));
      if (r.compact) cut = Math.max(cut, m.cleanedUpTo ?? 0);
      r.d.push(log.truncateTo(cut));
    } else if (this.against === 'retention') {
      r.d.wall += 3000;
      log.setHighWatermark(log.logEndOffset);
      r.d.push(log.applyRetention(r.d.stamp()));
    } else if (r.compact) {
      log.setHighWatermark(log.logEndOffset);
      m.cleanedUpTo = log.logEndOffset;
      r.d.push(log.compact(r.d.stamp()));
    }
    r.d.drain();
    const events = r.d.events.slice(mark);
    const answered = events.findIndex((e) => e.kind === 'read' && e.token === token);
    const truncated = events.findIndex((e) => e.kind === 'truncated');
    const answer = events[answered];
    assert.ok(events.filter((e) => e.kind === 'read' && e.token === token).length <= 1, 'a read is answered once');
    r.d.events = r.d.events.filter((e) => e !== answer);
    if (cut >= 0) truncateAt(m, r, cut); // the model follows (and a truncation a fault undid is redone)
    else healthy(m, r);
    if (answer === undefined || answer.kind !== 'read') {
      assert.ok(r.faults, 'every read is answered');
      return checkInvariants(m, r);
    }
    const answeredFirst = truncated < 0 || answered < truncated;
    const res = answer.result;
    if (this.against === 'retention' && res.error === 'OFFSET_OUT_OF_RANGE' && fetch < r.d.log.logStartOffset) return checkInvariants(m, r);
    if (answeredFirst) checkReadAnswer(before, r, fetch, this.maxBytes, res, leoBefore);
    else checkReadAnswer(m, r, fetch, this.maxBytes, res, m.leo);
    checkInvariants(m, r);
  }
  toString = (): string => `readRace(${this.frac.toFixed(3)},${this.maxBytes},${this.steps},${this.against}${this.against === 'truncate' ? `@${this.cutFrac.toFixed(3)}` : ''})`;
}

export class CompactCmd implements Cmd {
  constructor(readonly advanceMs: number) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.d.drain();
    healthy(m, r);
    r.d.wall += this.advanceMs;
    r.d.log.setHighWatermark(r.d.log.logEndOffset);
    m.cleanedUpTo = r.d.log.logEndOffset;
    r.d.push(r.d.log.compact(r.d.stamp()));
    r.d.drain();
    healthy(m, r);
    if (r.compact) checkAll(m, r);
    checkInvariants(m, r);
  }
  toString = (): string => `compact(+${this.advanceMs}ms)`;
}

/** flush() or roll() on a ready log (shown as the method's name). */
export class LogCallCmd implements Cmd {
  constructor(readonly method: 'flush' | 'roll') {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.d.push(r.d.log[this.method]()); // in every state: harmless unless ready
    checkInvariants(m, r);
  }
  toString = (): string => this.method;
}

/** Time passes (`ms`), then a tick: flush.ms, and SEG-4's terminator once the log is at rest. */
export class TickCmd implements Cmd {
  constructor(readonly ms: number) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.d.now += this.ms;
    r.d.push(r.d.log.tick(r.d.stamp())); // in every state: harmless unless ready
    checkInvariants(m, r);
  }
  toString = (): string => `tick(${this.ms})`;
}

/**
 * SEG-4 at rest: drain, a tick past TERMINATOR_IDLE_MS, drain, power loss. Nothing was in flight,
 * so the restart keeps everything and reports no torn tail (a recycled file's terminator ends the
 * scan). Then 0-3 appends right behind a tick at rest and a crash after `steps` disk steps.
 */
export class RestCrashCmd implements Cmd {
  constructor(
    readonly appends: number,
    readonly steps: number,
  ) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.d.drain();
    healthy(m, r);
    if (r.d.log.state !== 'ready' || r.faults) return;
    if (r.d.log.durableOffset < r.d.log.logEndOffset) {
      r.d.push(r.d.log.flush()); // flush.messages > 1: make everything durable first
      r.d.drain();
    }
    r.d.now += TERMINATOR_IDLE_MS;
    r.d.push(r.d.log.tick(r.d.stamp()));
    r.d.drain();
    const end = m.leo;
    new CrashCmd(0, -1).run(m, r);
    assert.equal(m.leo, end, 'SEG-4: a crash at rest keeps everything');
    assert.deepEqual(r.d.take('corruption'), [], 'SEG-4: a crash at rest reports no torn tail');
    r.d.now += TERMINATOR_IDLE_MS;
    r.d.push(r.d.log.tick(r.d.stamp()));
    const appends = Array.from({ length: this.appends }, (_, i) => new AppendCmd([1 + (i % 3)], 40 * i, false, false));
    new SeqCmd([...appends, new CrashCmd(this.steps, -1)]).run(m, r);
  }
  toString = (): string => `restCrash(${this.appends},${this.steps})`;
}

/** truncateTo(x) until it takes (or finds it done), drained; the model follows. */
const truncateAt = (m: Model, r: Real, x: number): void => {
  // Below the first segment the log is emptied and restarts at x (Kafka's truncateFullyAndStartAt).
  const full = r.d.log.state === 'ready' && x < r.d.log.segments[0].baseOffset;
  for (let i = 0; i < 10; i++) {
    // An injected fsync failure may leave the truncation undone: restart, reconcile, redo. A full
    // truncation interrupted after its new segment was durable recovers as done (LOG-10).
    if (full && r.d.log.state === 'failed') {
      const durable = r.d.log.durableOffset;
      r.d.restartUntilReady();
      assert.equal(r.d.log.state, 'ready', 'log recovers after a restart');
      if (r.d.log.logEndOffset === x && r.d.log.logStartOffset === x) break;
      reconcile(m, r, durable);
    }
    healthy(m, r);
    r.d.push(r.d.log.truncateTo(x));
    r.d.drain();
    if (r.d.log.state === 'ready') break;
  }
  healthy(m, r);
  if (full && r.d.log.state === 'ready') {
    m.batches = [];
    m.leo = x;
    return;
  }
  const cut = m.batches.findIndex((b) => b.last >= x);
  if (cut >= 0) {
    m.leo = m.batches[cut].base;
    m.batches = m.batches.slice(0, cut);
  }
};

export class TruncateCmd implements Cmd {
  /** `frac` < 0: below the log start (a full truncation, as after DeleteRecords; not compacted). */
  constructor(readonly frac: number) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.d.drain();
    healthy(m, r);
    const log = r.d.log;
    let x = log.logStartOffset + Math.floor(this.frac * (log.logEndOffset - log.logStartOffset));
    if (this.frac < 0) x = r.compact ? log.logStartOffset : Math.max(0, Math.floor(-this.frac * log.logStartOffset));
    if (r.compact) x = Math.max(x, m.cleanedUpTo ?? 0);
    truncateAt(m, r, x);
    if (r.d.log.state === 'ready') assert.ok(r.d.log.logStartOffset <= x || x >= r.d.log.logEndOffset, 'LOG-3 a cut below the log start brings it down');
    checkInvariants(m, r);
  }
  toString = (): string => `truncate(${this.frac.toFixed(3)})`;
}

/** TS-1: a lookup by timestamp answers the model's first record at or above the log start whose
 *  timestamp reaches the target (not checked on compacted logs: the model keeps no record set). */
export class TimestampCmd implements Cmd {
  constructor(readonly frac: number) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.d.drain();
    healthy(m, r);
    const log = r.d.log;
    if (log.state !== 'ready' || r.compact) return;
    const records: { offset: number; ts: number }[] = [];
    for (const b of m.batches) for (const rec of b.records) if (rec.offset >= log.logStartOffset) records.push({ offset: rec.offset, ts: rec.timestamp });
    const lo = Math.min(...records.map((x) => x.ts), 0);
    const hi = Math.max(...records.map((x) => x.ts), 0);
    const t = lo + Math.floor(this.frac * (hi - lo + 2));
    const want = records.find((x) => x.ts >= t)?.offset ?? -1;
    r.d.take('offsetForTimestamp');
    r.d.push(log.offsetForTimestamp(t, 9e9));
    r.d.drain();
    const [e] = r.d.take('offsetForTimestamp');
    if (e === undefined || e.kind !== 'offsetForTimestamp') return assert.ok(r.faults, 'a timestamp lookup is answered');
    if (e.error !== 'NONE') return assert.ok(r.faults, `timestamp lookup: ${e.error}`);
    assert.equal(e.offset, want, `offsetForTimestamp(${t})`);
    checkInvariants(m, r);
  }
  toString = (): string => `timestamp(${this.frac.toFixed(3)})`;
}

/** After retention or DeleteRecords moved the log start: a read just below it is out of range. */
const checkBelowLogStart = (r: Real): void => {
  const { logStartOffset: start, logEndOffset: end } = r.d.log;
  if (start > 0 && start <= end) assert.equal(r.d.read(start - 1, 100).error, 'OFFSET_OUT_OF_RANGE', 'below the log start');
};

/** DeleteRecords up to the log end (the high watermark follows it, one replica). */
export class DeleteRecordsCmd implements Cmd {
  constructor(readonly frac: number) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.d.drain();
    healthy(m, r);
    const log = r.d.log;
    if (log.state !== 'ready') return;
    log.setHighWatermark(log.logEndOffset);
    const x = log.logStartOffset + Math.floor(this.frac * (log.logEndOffset - log.logStartOffset));
    const res = log.deleteRecords(x, r.d.stamp());
    assert.equal(res.error, 'NONE');
    r.d.push(res.effects);
    r.d.drain();
    healthy(m, r);
    if (r.d.log.state !== 'ready') return;
    checkBelowLogStart(r);
    checkInvariants(m, r);
  }
  toString = (): string => `deleteRecords(${this.frac.toFixed(3)})`;
}

export class RetentionCmd implements Cmd {
  constructor(readonly advanceMs: number) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.d.drain();
    healthy(m, r);
    r.d.wall += this.advanceMs;
    r.d.retain();
    healthy(m, r);
    const start = r.d.log.logStartOffset;
    // On a batch boundary, or inside a batch where DeleteRecords put it.
    assert.ok(start === m.leo || m.batches.some((b) => b.base <= start && start <= b.last), 'logStart within the log');
    assert.ok(r.d.log.segments.length >= 1, 'RET-1 the active segment stays');
    assert.ok(r.d.log.recycled.length <= RECYCLE_SLOTS, 'REC-LOG slots are bounded');
    checkBelowLogStart(r);
    checkInvariants(m, r);
  }
  toString = (): string => `retention(+${this.advanceMs}ms)`;
}

export class CrashCmd implements Cmd {
  constructor(
    readonly stepsBefore: number,
    readonly corruptTail: number,
  ) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    for (let i = 0; i < this.stepsBefore; i++) r.d.stepOne();
    const startBefore = r.d.log.state === 'ready' ? r.d.log.logStartOffset : -1;
    let durable = r.d.log.durableOffset;
    let mustTruncateAt = -1;
    if (this.corruptTail >= 0 && r.d.log.state === 'ready' && !r.compact) {
      r.d.drain();
      if (r.d.log.state === 'ready') r.d.push(r.d.log.flush()); // make the tail durable first
      r.d.drain();
      durable = r.d.log.durableOffset;
      const seg = r.d.log.activeSegment;
      const last = m.batches[m.batches.length - 1];
      if (r.d.log.state === 'ready' && last !== undefined && last.base >= seg.baseOffset && seg.sizeBytes >= last.bytes.length) {
        // Any byte but the partitionLeaderEpoch (not covered by the CRC; see batch-scan.ts).
        let at = Math.floor(this.corruptTail * (last.bytes.length - 4));
        if (at >= 12) at += 4;
        r.d.disk.corrupt(seg.logFile, seg.sizeBytes - last.bytes.length + at, 1);
        mustTruncateAt = last.base;
      }
    }
    r.d.take('corruption');
    r.d.crash();
    r.d.drain();
    r.d.restartUntilReady();
    const log = r.d.log;
    if (mustTruncateAt >= 0) {
      assert.equal(log.logEndOffset, mustTruncateAt, 'SCAN-1 a corrupt tail batch is truncated at its base');
      assert.ok(r.d.take('corruption').length > 0, 'corruption reported');
    }
    reconcile(m, r, mustTruncateAt >= 0 ? Math.min(durable, mustTruncateAt) : durable);
    checkAll(m, r);
    checkInvariants(m, r);
    checkEpochs(m, r);
    // CKPT-3: an acknowledged batch at or above the log start the crash found stays readable
    // (a lowered log start is durable before anything after it is acknowledged).
    const acked = m.batches.find((b) => b.base >= startBefore && b.last < durable);
    if (startBefore >= 0 && acked !== undefined && log.state === 'ready') {
      assert.ok(log.logStartOffset <= acked.base, `acknowledged batch ${acked.base} below the recovered log start ${log.logStartOffset}`);
    }
  }
  toString = (): string => `crash(${this.stepsBefore}${this.corruptTail >= 0 ? `,corrupt@${this.corruptTail.toFixed(3)}` : ''})`;
}

/** Several commands as one (a crash right behind appends left in flight: LOG-4's pipeline). */
export class SeqCmd implements Cmd {
  constructor(readonly cmds: readonly Cmd[]) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    for (const c of this.cmds) c.run(m, r);
  }
  toString = (): string => this.cmds.map(String).join(';');
}

const frac = fc.integer({ min: 0, max: 999 }).map((n) => n / 1000);

/**
 * LOG-15: one corked turn: the log is corked, the commands run (appends, disk steps: completions
 * arrive while corked), then it is uncorked, or a crash ends the turn first (corked appends were
 * never committed: the model loses them as any unacknowledged append).
 */
export class CorkedCmd implements Cmd {
  constructor(
    readonly cmds: readonly Cmd[],
    readonly crash: CrashCmd | null,
  ) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.d.log.cork();
    const log = r.d.log;
    const emit = log.append.bind(log);
    // LOG-15: a corked append starts no commit (its effects are empty).
    log.append = (batches, epoch, stamp) => {
      const res = emit(batches, epoch, stamp);
      assert.equal(res.effects.length, 0, 'a corked append emitted effects');
      return res;
    };
    try {
      for (const c of this.cmds) c.run(m, r);
    } finally {
      log.append = emit;
    }
    if (this.crash !== null) return this.crash.run(m, r);
    r.d.push(r.d.log.uncork());
    checkInvariants(m, r);
    if (!r.faults && r.d.log.state === 'ready' && r.d.log.config.flushMessages <= 1) {
      r.d.drain();
      assert.equal(r.d.log.durableOffset, r.d.log.logEndOffset, 'LOG-15: after uncork everything becomes durable');
    }
  }
  toString = (): string => `cork[${this.cmds.map(String).join(';')}]${this.crash !== null ? String(this.crash) : 'uncork'}`;
}



const appendArb = fc
  .tuple(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 9 }), fc.boolean())
  .map(([c, v, b, dr]) => new AppendCmd(c, v, b === 0, dr));

/** The command sequences; `replayPath` (fast-check's, from a failure report) replays a shrunk one. */
export const commandArb = (replayPath?: string): fc.Arbitrary<Iterable<Cmd>> =>
  fc.commands(
    [
      appendArb,
      appendArb,
      appendArb,
      appendArb,
      fc.integer({ min: 1, max: 12 }).map((n) => new StepCmd(n)),
      fc.integer({ min: 1, max: 12 }).map((n) => new StepCmd(n)),
      fc.tuple(frac, fc.integer({ min: 1, max: 4096 })).map(([f, b]) => new ReadCmd(f, b)),
      fc.tuple(frac, fc.integer({ min: 1, max: 4096 })).map(([f, b]) => new ReadCmd(f, b)),
      fc.constant(new LogCallCmd('roll')),
      fc.constant(new LogCallCmd('flush')),
      fc.integer({ min: 0, max: 120 }).map((ms) => new TickCmd(ms)),
      fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 2 })).map(([a, st]) => new RestCrashCmd(a, st)),
      fc.integer({ min: 0, max: 5000 }).map((ms) => new CompactCmd(ms)),
      frac.map((f) => new TruncateCmd(f)),
      frac.map((f) => new TruncateCmd(-f)),
      frac.map((f) => new DeleteRecordsCmd(f)),
      frac.map((f) => new TimestampCmd(f)),
      fc
        .tuple(frac, fc.integer({ min: 1, max: 4096 }), fc.integer({ min: 0, max: 4 }), fc.constantFrom('truncate' as const, 'truncate' as const, 'retention' as const, 'compact' as const), frac)
        .map(([f, b, s, a, c]) => new ReadRaceCmd(f, b, s, a, c)),
      fc.integer({ min: 0, max: 5000 }).map((ms) => new RetentionCmd(ms)),
      fc
        .tuple(fc.array(fc.oneof(appendArb, fc.integer({ min: 1, max: 4 }).map((n) => new StepCmd(n))), { minLength: 1, maxLength: 4 }), fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 3 }))
        .map(([cmds, crash, steps]) => new CorkedCmd(cmds, crash === 0 ? new CrashCmd(steps, -1) : null)),
      fc.tuple(fc.integer({ min: 0, max: 10 }), fc.oneof(fc.constant(-1), frac)).map(([s, c]) => new CrashCmd(s, c)),
      // Two or three small appends back to back (pipelined commits, LOG-4: small enough not to
      // roll, even with the recycle mode's 2 KiB segments), then disk steps or a crash.
      fc
        .tuple(fc.array(fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 40 })), { minLength: 2, maxLength: 3 }), fc.integer({ min: 0, max: 6 }), fc.boolean())
        .map(([as, steps, crash]) => new SeqCmd([...as.map(([n, v]) => new AppendCmd([n], v, false, false)), crash ? new CrashCmd(steps % 3, -1) : new StepCmd(steps)])),
      // Two or three appends back to back (pipelined commits, LOG-4), then some disk steps.
      fc
        .tuple(fc.array(appendArb.map((a) => new AppendCmd(a.counts, a.valueBytes, a.bumpEpoch, false)), { minLength: 2, maxLength: 3 }), fc.integer({ min: 0, max: 6 }))
        .map(([as, steps]) => new SeqCmd([...as, new StepCmd(steps)])),
      // Two or three commits in flight, then power loss (each durable write lands, tears or not).
      fc.tuple(fc.array(appendArb.map((a) => new AppendCmd(a.counts, a.valueBytes, a.bumpEpoch, false)), { minLength: 2, maxLength: 3 }), fc.integer({ min: 0, max: 2 })).map(([as, steps]) => new SeqCmd([...as, new CrashCmd(steps, -1)])),
    ],
    { maxCommands: 80, size: 'max', replayPath },
  );

export interface PropertyOptions {
  readonly numRuns: number;
  readonly seed?: number;
  /** fast-check replay path (from a failure report). */
  readonly path?: string;
  /** fast-check commands replay path (the report's `replayPath="..."`); with `path`, replays the shrunk sequence. */
  readonly replayPath?: string;
  /** Inject read bit-flips, read EIO and fsync EIO as well as crashes. */
  readonly faults?: boolean;
  /** flush.messages for the log (1 = sync every commit, the default). */
  readonly flushMessages?: number;
  /** cleanup.policy=compact, with compaction commands and record-level checks. */
  readonly compact?: boolean;
  /** segmentRecycling on (retention is on in every run): deleted segments are reused by rolls. */
  readonly recycle?: boolean;
}

export const FAULTS: DiskFaultConfig = { bitRotRate: 0.002, readErrorRate: 0.002, syncFailRate: 0.002 };

/** The sweep-log flags that select `opts`'s mode. */
export const modeFlags = (opts: PropertyOptions): string =>
  `${opts.faults === true ? ' --faults' : ''}${opts.compact === true ? ' --compact' : ''}${opts.recycle === true ? ' --recycle' : ''}${opts.flushMessages !== undefined ? ` --flush-messages=${opts.flushMessages}` : ''}`;

/** The one command that replays a failed run's shrunk counterexample alone (fast-check seed + paths). */
export const replayCommand = (opts: PropertyOptions, details: fc.RunDetails<[number, Iterable<Cmd>]>): string | null => {
  if (!details.failed || details.counterexamplePath === null) return null;
  const replayPath = /replayPath="([^"]*)"/.exec(String(details.counterexample?.[1]))?.[1];
  const commands = replayPath !== undefined ? ` '--replay-path=${replayPath}'` : '';
  return `npx tsx scripts/sweep-log.ts ${opts.numRuns} ${details.seed}${modeFlags(opts)} --path=${details.counterexamplePath}${commands}`;
};

/** Runs `numRuns` command sequences; returns fast-check's report (failed, counterexample, seed). */
export const runLogProperty = (opts: PropertyOptions): fc.RunDetails<[number, Iterable<Cmd>]> =>
  fc.check(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), commandArb(opts.replayPath), (diskSeed, cmds) => {
      const faults = opts.faults ?? false;
      const cfg = smallConfig({
        retentionBytes: 3000,
        retentionMs: 4000,
        segmentMs: 3000,
        flushMessages: opts.flushMessages ?? 1,
        cleanupPolicy: opts.compact ? 'compact' : 'delete',
        segmentRecycling: opts.recycle ?? false,
        readChunkBytes: 600, // walks of many reads, batches straddling chunks
        // Recycling: retention deletes more, so more rolls reuse slots, and more commits
        // (pipelined ones too), crashes and SEG-4 terminators land in reused files.
        ...(opts.recycle === true ? { segmentBytes: 2048, retentionBytes: 700 } : {}),
      });
      const { d } = newDriver(diskSeed, cfg, faults ? FAULTS : {});
      d.restartUntilReady();
      const real: Real = { d, faults, compact: opts.compact ?? false };
      fc.modelRun(() => ({ model: { batches: [], leo: 0, epoch: 0 }, real }), cmds);
    }),
    { numRuns: opts.numRuns, seed: opts.seed, path: opts.path, endOnFailure: opts.path !== undefined },
  );
