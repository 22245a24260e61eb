// Recovery at start: list the directory, read the checkpoints, trust what lies wholly below the
// recovery point (LOG-6: its index files are read and sanity-checked, its data is not), scan the
// rest batch by batch (SCAN-1), truncate a torn or corrupt tail (truncate + re-zero + sync), and
// rebuild indexes for whatever was scanned. Recovery of a large log reads only index files and
// the segments after the recovery point (normally just the active one).
// LOG-2 follows because every batch below the pre-crash durable offset was synced, so it scans
// valid, and the scan stops only at the first invalid batch, which lies above all of them —
// unless bit-rot hit synced data, which is reported as corruption.
// With segment recycling (REC-LOG, SEG-4 in partition-log.ts) leftover `.log.recycle` slots are
// kept (bound in the name) or removed. The active segment is always truncated at the recovered
// end and re-extended with zeroes, recycled file or not (SEG-5).
import type { DiskError, DiskOp, DiskResult, DirEntry, Stamp } from '../io.ts';
import { leaderEpochAt } from '../records/batch-header.ts';
import { segmentWalkSpec, walkBatches } from './batch-walker.ts';
import { CKPT_HIGH_WATERMARK, CKPT_LEADER_EPOCH, CKPT_LOG_START, CKPT_RECOVERY_POINT, parseCheckpoint, parseOffset } from './checkpoint-file.ts';
import { sameBytes } from '../bytes.ts';
import { LeaderEpochCache } from './leader-epoch-cache.ts';
import { parseOffsetIndex } from './offset-index.ts';
import type { PartitionLog } from './partition-log.ts';
import { RECYCLE_NAME_RE, RECYCLE_SLOTS, SEGMENT_NAME_RE, Segment, segmentName, type RecycleSlot } from './segment.ts';
import { parseTimeIndex } from './time-index.ts';

const SCAN_CHUNK_BYTES = 1024 * 1024;

interface Found {
  base: number;
  fileBytes: number;
  indexBytes: number; // -1 when absent
  timeIndexBytes: number;
}

interface Step {
  op: DiskOp;
  done?: (r: DiskResult) => void;
  fail?: (e: DiskError) => void;
}

/** Emits `steps` in order, then calls `then` after the last one completes (or at once if none). */
const emitAll = (log: PartitionLog, steps: Step[], then: () => void): void => {
  if (steps.length === 0) return then();
  steps.forEach((s, i) => {
    const last = i === steps.length - 1;
    log.q.emit(
      s.op,
      (r) => {
        s.done?.(r);
        if (last) then();
      },
      (e) => {
        if (s.fail === undefined) return log.fail(`recovery ${s.op.kind} failed: ${e}`);
        s.fail(e);
        if (last) then();
      },
    );
  });
};

export const startRecovery = (log: PartitionLog, _stamp: Stamp): void => {
  log.state = 'recovering';
  log.q.emit(
    { kind: 'list', dir: log.config.dir },
    (r) => onList(log, r.entries ?? []),
    (e) => log.fail(`list failed: ${e}`),
  );
};

const onList = (log: PartitionLog, entries: readonly DirEntry[]): void => {
  const dir = log.config.dir;
  const byName = new Map(entries.filter((e) => !e.dir).map((e) => [e.name, e.size]));
  const found: Found[] = [];
  const leftovers: Step[] = [];
  const slots: RecycleSlot[] = [];
  for (const [name, size] of byName) {
    const m = SEGMENT_NAME_RE.exec(name);
    const slot = RECYCLE_NAME_RE.exec(name);
    if (slot !== null) {
      // REC-LOG: a slot's name is its bound, whatever step a crash interrupted (a rename is never
      // split: the file is either still the segment or already the slot, or already the new
      // segment, whose first 12 bytes were zeroed and synced before the rename). Kept only while
      // recycling is on and within RECYCLE_SLOTS; the rest are removed.
      if (log.config.segmentRecycling && slots.length < RECYCLE_SLOTS) slots.push({ bound: Number(slot[1]) });
      else leftovers.push({ op: { kind: 'remove', file: `${dir}/${name}` }, fail: () => {} });
    } else if (m !== null) {
      const base = Number(m[1]);
      const stem = segmentName(base);
      found.push({ base, fileBytes: size, indexBytes: byName.get(`${stem}.index`) ?? -1, timeIndexBytes: byName.get(`${stem}.timeindex`) ?? -1 });
    } else if (/\.(tmp|cleaned|deleted|swap)$/.test(name)) {
      leftovers.push({ op: { kind: 'remove', file: `${dir}/${name}` }, fail: () => {} });
    }
  }
  found.sort((a, b) => a.base - b.base);
  log.recycled = slots;
  // Checkpoint files carry no checksum (Kafka's format), so each is read three times and the
  // majority wins: a bit flipped in flight cannot move an offset (CKPT-2). No majority = absent.
  const copies = new Map<string, Uint8Array[]>();
  const reads: Step[] = [];
  for (const n of [CKPT_RECOVERY_POINT, CKPT_HIGH_WATERMARK, CKPT_LOG_START, CKPT_LEADER_EPOCH]) {
    if (!byName.has(n)) continue;
    copies.set(n, []);
    for (let k = 0; k < 3; k++) {
      reads.push({
        op: { kind: 'read', file: `${dir}/${n}`, offset: 0, length: byName.get(n)! },
        done: (r) => copies.get(n)!.push(r.data ?? new Uint8Array(0)),
        fail: () => {},
      });
    }
  }
  const ckpt = new Map<string, Uint8Array>();
  const vote = (): void => {
    for (const [n, got] of copies) {
      const winner = got.find((a, i) => got.some((b, j) => j !== i && sameBytes(a, b)));
      if (winner !== undefined) ckpt.set(n, winner);
    }
  };
  emitAll(log, [...leftovers, ...reads], () => {
    vote();
    onCheckpoints(log, found, ckpt);
  });
};

const offsetCheckpoint = (log: PartitionLog, bytes: Uint8Array | undefined): number | null => {
  if (bytes === undefined) return null;
  const rows = parseCheckpoint(bytes, 3);
  const row = rows?.find((r) => r[0] === log.config.topic && r[1] === String(log.config.partition));
  return row === undefined ? null : parseOffset(row[2]);
};

const onCheckpoints = (log: PartitionLog, found: Found[], ckpt: Map<string, Uint8Array>): void => {
  const epochs = LeaderEpochCache.parse(ckpt.get(CKPT_LEADER_EPOCH) ?? null);
  // EPOCH-3: segments below the recovery point are not scanned, so their epochs come from the
  // epoch checkpoint only; without a usable one (lost, unreadable, no majority of three reads),
  // every segment is scanned instead.
  const recoveryPoint = epochs === null ? 0 : (offsetCheckpoint(log, ckpt.get(CKPT_RECOVERY_POINT)) ?? 0);
  const hw = offsetCheckpoint(log, ckpt.get(CKPT_HIGH_WATERMARK)) ?? 0;
  const logStart = offsetCheckpoint(log, ckpt.get(CKPT_LOG_START)) ?? 0;
  log.epochs.cache = epochs ?? new LeaderEpochCache();
  const dir = log.config.dir;
  if (found.length === 0) {
    const seg = new Segment(dir, Math.max(0, logStart));
    log.segments = [seg];
    log.emitCreateSegment(seg);
    return finish(log, logStart, hw);
  }
  const segs = found.map((f) => new Segment(dir, f.base));
  const trusted = new Set<number>();
  const steps: Step[] = [];
  found.forEach((f, i) => {
    const next = found[i + 1];
    if (next === undefined || next.base > recoveryPoint || f.indexBytes < 0 || f.timeIndexBytes < 0) return; // LOG-6
    const seg = segs[i];
    // Index files carry no checksum either: read each twice, and scan instead unless both agree.
    const got: Uint8Array[] = [];
    const judge = (): void => {
      if (got.length !== 4 || !sameBytes(got[0], got[1]) || !sameBytes(got[2], got[3])) return;
      const idx = parseOffsetIndex(got[0], f.base, f.fileBytes);
      const tix = parseTimeIndex(got[2], f.base);
      if (idx === null || tix === null) return;
      // Every non-empty segment's time index has an entry (its first batch's): an empty one was
      // lost (an index name can become durable before its data on a real file system).
      if (f.fileBytes > 0 && tix.length === 0) return;
      if (idx.length > 0 && idx.entry(idx.length - 1)[0] >= next.base) return; // sanity: last entry inside
      seg.offsetIndex = idx;
      seg.timeIndex = tix;
      seg.sizeBytes = seg.writtenBytes = f.fileBytes;
      seg.nextOffset = next.base;
      seg.maxTimestamp = tix.lastEntry().timestamp;
      trusted.add(i);
    };
    for (let k = 0; k < 4; k++) {
      const add = (data: Uint8Array): void => {
        got.push(data);
        if (k === 3) judge(); // after the last of the four reads
      };
      steps.push({
        op: { kind: 'read', file: k < 2 ? seg.indexFile : seg.timeIndexFile, offset: 0, length: k < 2 ? f.indexBytes : f.timeIndexBytes },
        done: (r) => add(r.data ?? new Uint8Array(0)),
        fail: () => add(new Uint8Array(1)), // never a valid index: forces a scan
      });
    }
  });
  emitAll(log, steps, () => scanFrom(log, found, segs, trusted, 0, logStart, hw));
};

/** Scans untrusted segments in order from `i`; stops at the first corrupt one (the rest go). */
const scanFrom = (log: PartitionLog, found: Found[], segs: Segment[], trusted: Set<number>, i: number, logStart: number, hw: number): void => {
  if (i >= segs.length) return settle(log, found, segs, trusted, segs.length, logStart, hw);
  if (trusted.has(i)) return scanFrom(log, found, segs, trusted, i + 1, logStart, hw);
  const prevNext = i > 0 ? segs[i - 1].nextOffset : 0;
  if (i > 0 && segs[i].baseOffset > prevNext) {
    // A hole before this segment: the tail of the previous one was lost (its sync failed or
    // never happened), so everything from here on is above any durable offset: drop it.
    // (Compaction keeps each segment's last batch, CMP-4, and a truncation ends a segment at its
    // last kept batch, LOG-11, so a cleaned log has no such hole.)
    log.reportCorruption({ file: segs[i].logFile, position: 0, detail: `offset gap ${prevNext}..${segs[i].baseOffset} before segment` });
    return settle(log, found, segs, trusted, i, logStart, hw);
  }
  if (segs[i].baseOffset < prevNext) {
    log.reportCorruption({ file: segs[i].logFile, position: 0, detail: 'segment overlaps its predecessor' });
    if (!trusted.has(i - 1)) return settle(log, found, segs, trusted, i, logStart, hw);
    // The new active segment was trusted: its end is unknown without a scan.
    trusted.delete(i - 1);
    segs[i - 1] = new Segment(log.config.dir, segs[i - 1].baseOffset);
    return scanSegment(log, segs[i - 1], found[i - 1].fileBytes, segs[i]?.baseOffset, () => settle(log, found, segs, trusted, i, logStart, hw));
  }
  scanSegment(log, segs[i], found[i].fileBytes, segs[i + 1]?.baseOffset, (clean) => {
    if (!clean) return settle(log, found, segs, trusted, i + 1, logStart, hw);
    scanFrom(log, found, segs, trusted, i + 1, logStart, hw);
  });
};

/**
 * Scans a whole segment file with the batch walker (WALK-1's chunked reads and re-reads, SCAN-1's
 * checks), rebuilding the segment's state and the epoch cache; `clean` is false when it ended at a
 * corrupt batch (a batch whose offsets would overflow the segment's u32 space, or reach the next
 * segment's base offset `nextBase`, counts as one: re-read, then reported). The second bound is
 * what catches, in a compacted log (whose scan allows offset gaps), a base offset read with a
 * flipped high bit, which the CRC does not cover.
 */
const scanSegment = (log: PartitionLog, seg: Segment, fileBytes: number, nextBase: number | undefined, done: (clean: boolean) => void): void => {
  const c = log.config;
  const spec = segmentWalkSpec(seg, c, {
    limitBytes: fileBytes,
    endOffset: Math.min(seg.offsetLimit, nextBase ?? Infinity), // SEG-2
    confirm: true, // WALK-2: the scan becomes state
    chunkBytes: SCAN_CHUNK_BYTES,
  });
  walkBatches(
    log.q,
    spec,
    (buf, off, size, base, last) => {
      seg.onBatch(buf, off, size, base, last, c.indexIntervalBytes);
      // EPOCH-3: the checkpointed cache already holds the epochs of what it covers; a scanned
      // batch only adds a newer epoch, or moves the latest one's start down. Assigning an older
      // epoch would drop every entry from it on (a batch of epoch 3 at 13 turned 3@2, 4@15 into
      // 3@13), as Kafka's LogSegment.recover avoids by assigning newer epochs only.
      const epoch = leaderEpochAt(buf, off);
      if (epoch >= log.epochs.cache.latestEpoch()) log.epochs.cache.assign(epoch, base);
      return 'continue';
    },
    (end) => {
      if (end.kind === 'ioError') return log.fail(`recovery read failed: ${end.error}`);
      seg.writtenBytes = seg.sizeBytes;
      if (seg.sizeBytes !== end.position) throw new Error('RECOVERY: scan position and segment size disagree');
      if (end.kind === 'corrupt') {
        log.reportCorruption({ file: seg.logFile, position: end.position, detail: 'torn or corrupt batch truncated at recovery' });
        return done(false); // settle cuts the file there (it is then the active segment)
      }
      done(true); // ended at 12 zero bytes or at the file end (SEG-4: stale bytes may follow; settle cuts them)
    },
  );
};

/**
 * Keeps segments [0, keep), deletes the rest; trims scanned non-active segments and persists their
 * indexes; re-zeroes the active segment's tail (truncate + allocate + sync); then checkpoints.
 */
const settle = (log: PartitionLog, found: Found[], segs: Segment[], trusted: Set<number>, keep: number, logStart: number, hw: number): void => {
  const kept = segs.slice(0, Math.max(1, keep));
  // LOG-10: newest first, each removal durable before the next: a crash now leaves a prefix.
  for (const s of segs.slice(kept.length).reverse()) {
    log.emitRemoveSegment(s);
    log.q.emit({ kind: 'syncDir', dir: log.config.dir });
  }
  log.segments = kept;
  const active = kept[kept.length - 1];
  for (let i = 0; i < kept.length - 1; i++) {
    const s = kept[i];
    if (trusted.has(i)) continue;
    s.sealTimeIndex();
    if (found[i].fileBytes !== s.sizeBytes) {
      log.q.emit({ kind: 'truncate', file: s.logFile, size: s.sizeBytes });
      log.q.emit({ kind: 'sync', file: s.logFile });
    }
    log.emitIndexFilesAtomic(s); // IDX-1: it may lie below the checkpointed recovery point
  }
  // SEG-5: everything past the recovered end goes, recycled file or not: unsynced writes there
  // (commits in flight at the crash, or any number of them under flush.messages > 1) may have
  // landed past lost ones, and one could later be read back with the very next offset. The
  // recycled file's allocation past the end is given up once per restart.
  // (`active` is a fresh Segment of this recovery: its dirtyTail is false, as the re-zeroed file.)
  log.q.emit({ kind: 'truncate', file: active.logFile, size: active.sizeBytes });
  log.q.emit({ kind: 'allocate', file: active.logFile, size: log.config.segmentBytes });
  log.q.emit({ kind: 'sync', file: active.logFile });
  log.q.emit({ kind: 'syncDir', dir: log.config.dir });
  finish(log, logStart, hw);
};

const finish = (log: PartitionLog, logStart: number, hw: number): void => {
  const active = log.activeSegment;
  log.logEndOffset = active.nextOffset;
  log.logStartOffset = Math.min(Math.max(logStart, log.segments[0].baseOffset), log.logEndOffset);
  log.highWatermark = Math.max(log.logStartOffset, Math.min(hw, log.logEndOffset));
  log.recoveryPoint = active.baseOffset;
  log.epochs.cache.truncateFromEnd(log.logEndOffset);
  log.epochs.cache.truncateFromStart(log.logStartOffset);
  // Checkpoints only after every trim/index/sync above succeeded (completions come in order),
  // then ready once they are written: everything kept is synced (LOG-1 starts from here).
  log.q.emit({ kind: 'sync', file: active.logFile }, () => {
    if (log.state !== 'recovering') return;
    log.writeCheckpoints(() => {
      if (log.state !== 'recovering') return;
      log.state = 'ready';
      log.durableOffset = log.logEndOffset;
      log.events.push({ kind: 'ready', logEndOffset: log.logEndOffset, durableOffset: log.durableOffset });
    });
  });
};
