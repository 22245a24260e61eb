// The partition log: an append-only sequence of RecordBatches over segments, as a pure state
// machine. Every I/O is a `Disk` effect; completions come back through `onDisk`. Results that are
// not immediate (durability, reads) are queued as `LogEvent`s, drained with `takeEvents()`.
//
// Invariants (proofs-notes/log.md):
//  LOG-1 durableOffset only advances on the DiskDone of a sync emitted after the writes of every
//        batch below it; nothing at or above durableOffset may be acknowledged.
//  LOG-2 after a crash and recovery, every batch below the durableOffset reached before the crash
//        is present bit-exact (torn/corrupt tails above it are truncated, never served).
//  LOG-3 offsets are dense per append and strictly increasing across the log; logStartOffset <=
//        highWatermark <= logEndOffset; durableOffset <= logEndOffset.
//  LOG-4 group commit: appends accumulate while commits are in flight and go out together as ONE
//        commit. A commit is one durable write (write + sync in one op) when it can be; up to
//        commitDepth such commits of <= pipelineMaxBytes may be in flight at once (the disk
//        overlaps them); any other commit (a roll, several writes, flush.messages > 1) is issued
//        only when none is in flight. Durability advances in commit order (completions are FIFO).
//  LOG-15 (turns) a host may cork the log around one turn of its own (the requests of one network
//        read, the callbacks of one completion): appends made while corked only accumulate, and
//        uncork() starts the commit the first of them would have started. Without it a burst's
//        first append goes out alone whenever the pipeline has room, and closed-loop producers
//        then stay phase-locked: each cycle one commit of a single batch and one of all the others
//        (measured: 1 KiB + 511 KiB, a whole sync round trip spent on 1 KiB). Completions, flush,
//        tick and roll commit as before, corked or not.
//  LOG-5 the active segment is never deleted by retention; only whole segments below
//        min(highWatermark, durableOffset) and below logStartOffset are deleted.
//  LOG-6 a segment is trusted without a scan at recovery only if it lies wholly below the
//        checkpointed recovery point and its index files pass a sanity check.
//  IDX-1 index files of a segment that may lie below that recovery point (recovery's rebuild, a
//        compaction swap) are replaced atomically (temp, sync, rename, syncDir), never in place.
//  CKPT-2 the recovery point's checkpoint is written last, once the other changed checkpoints
//        (leader epochs, log start, high watermark) are durable: it lets recovery skip the scan
//        that would otherwise rebuild them.
//  CKPT-3 after a truncation, appends are taken but none becomes durable before the
//        truncation's checkpoints are (a crash must not recover an older log start above
//        acknowledged offsets).
//  LOG-14 a compaction swap waiting for read walks (LOG-13) is not held off by new reads: disk
//        reads and timestamp lookups arriving meanwhile start once the swaps ran.
//  LOG-7 queues are bounded: accepted-but-unwritten bytes <= maxPendingBytes.
//  LOG-9 a commit's data write is the appended batches' own bytes (a gathered write of runs of
//        adjacent views, up to 1024 chunks): the log never copies a batch on its way to the disk.
//        The caller gave up the buffers at append, so nothing changes them while the write is in
//        flight (the io contract's ownership rule).
//  REC-LOG segment recycling (config.segmentRecycling): a segment retention deletes whole is
//        renamed to `<dir>/<20-digit bound>.log.recycle` (bound = its nextOffset, an exclusive
//        upper bound of every offset the file has ever held; at most RECYCLE_SLOTS slots, the
//        rest are removed), and a roll reuses a slot for a new segment only if the new base
//        offset >= the slot's bound. So every stale batch in a reused file has offsets below the
//        segment's base offset, hence below the next offset any scan of the segment expects —
//        strict (delete policy: base == next) and loose (compact: base >= next) checks both stop
//        at it, and no read/walk goes past the logical end anyway (limit = writtenBytes, ends
//        bounded by nextOffset). Why the bound holds: a file's offsets are < its segment's
//        nextOffset (SEG-2); on reuse the new base is >= the bound, and truncation inside a
//        segment re-zeroes everything past the cut (truncate + allocate), so no offset above
//        the new nextOffset survives in the file; truncateFully may lower the log end below a
//        slot's bound, which is why the bound is checked at reuse, not assumed.
//  SEG-4 a segment whose file may hold stale bytes past its logical end (`dirtyTail`: made from a
//        slot; a slot's first 12 bytes are zeroed and synced before it is renamed) gets a 12-byte
//        zero terminator at its logical end whenever the log comes to rest: once it has been idle
//        (no commit in flight or queued) for TERMINATOR_IDLE_MS at a tick, and on flush(), as a
//        durable write of its own. So at rest the synced logical end is followed by zeroes and
//        recovery's scan ends there ('end') exactly as in a zero-filled file. Commits carry no
//        terminator (until the seventh session each did, and since it intersects the next
//        commit's first bytes, commits to recycled files could not overlap: 20% of the 256 KiB
//        rows' throughput), so while commits are in flight the durable end may be followed by
//        stale bytes: after a crash then, recovery's scan meets a stale batch, which fails the
//        offset check (REC-LOG), and truncates there as for any torn tail (reported as one).
//        While the log runs the file is never truncated to the logical end (that would free the
//        allocation). The terminator write is in `inflight` as a commit that makes nothing
//        durable, so truncations wait for it; the next commit's write intersects it and the disk
//        runs it after (core/io.ts).
//  SEG-5 after a crash, nothing past the recovered end survives: recovery truncates the active
//        segment there and re-extends it with zeroes, recycled or not. Else an unsynced write that
//        landed past a lost one (commits in flight, or any number under flush.messages > 1)
//        could, once the log re-grows over the gap to exactly its position, be read back with the
//        very next offset and a valid CRC.
//  LOG-11 after truncateTo(t) the log ends at the base of the batch holding t, or else at the end
//        of the last kept batch (t in a compacted gap, or no batch reaching it): never above what
//        the file shows, so a roll cannot leave a hole that recovery would take for a lost tail.
//  LOG-10 segments a truncation removes go newest first, each removal synced (syncDir) before the
//        next: a crash leaves a prefix of the segments, never a hole (recovery would trust the
//        segment below a hole and take its end from the next file's name).
//  LOG-12 a disk read (or timestamp lookup) that a truncation overtook starts again on the
//        truncated log, bounded by the cut: its walk may have read batches the truncation
//        removed, or new data at their positions. A timestamp lookup whose segment retention
//        removed starts again too.
//  LOG-13 a compaction swap waits for read walks in flight and runs only after the last one
//        has answered (the swap replaces Segment objects the answer looks up).
// Faults survived: crash with unsynced or torn writes, bit-rot (CRC on every disk read and scan),
// failed reads (typed error), failed writes/syncs (the log goes offline: KAFKA_STORAGE_ERROR).
import { gather, type DiskError, type DiskOpId, type DiskResult, type Effect, type Stamp, type WriteData } from '../io.ts';
import { BATCH_HEADER_SIZE, baseOffsetAt, batchSizeAt, lastOffsetDeltaAt, maxTimestampAt, readBatchHeader, stampBatch } from '../records/batch-header.ts';
import { forEachRecord, recordTimestamp } from '../records/batch.ts';
import { CKPT_HIGH_WATERMARK, CKPT_LEADER_EPOCH, CKPT_LOG_START, CKPT_RECOVERY_POINT, atomicWriteOps, encodeCheckpoint } from './checkpoint-file.ts';
import type { LogConfig } from './config.ts';
import { DiskQueue, counterIds, type NextDiskOpId } from './disk-queue.ts';
import { LeaderEpochCache } from './leader-epoch-cache.ts';
import type { AppendResult, Corruption, LogError, LogEvent, ReadResult } from './log-types.ts';
import { RECYCLE_SLOTS, Segment, recycleFile, type RecycleSlot } from './segment.ts';
import { NO_TIMESTAMP, type TimestampAt } from './time-index.ts';
import { TailCache } from './tail-cache.ts';
import { segmentWalkSpec, walkBatches, type WalkEnd, type WalkSpec } from './batch-walker.ts';
import { startRecovery } from './recovery.ts';
import { planRetention } from './retention.ts';
import { scanBatches } from './batch-scan.ts';
import { addToKeyMap, cleanSegment, type KeyMap } from './compaction.ts';
import { sameBytes, totalLength } from '../bytes.ts';

export type LogState = 'new' | 'recovering' | 'ready' | 'failed';


type DataAction = { kind: 'data'; seg: Segment; position: number; views: Uint8Array[]; bytes: number };
type Action = DataAction | { kind: 'roll'; old: Segment; next: Segment };

interface Commit {
  /** Offsets below this are covered by a sync in this commit. */
  syncedEnd: number;
  /** A roll happened: advance the recovery point once everything before it is synced. */
  rolled: boolean;
  /** One durable write that may be in flight together with others like it (LOG-4). */
  piped: boolean;
}

/** What the log reads of a DiskDone / DiskFailed input (the io.ts Input works as is). */
type DiskCompletion =
  | { readonly tag: 'DiskDone'; readonly id: DiskOpId; readonly result: DiskResult; readonly now?: number }
  | { readonly tag: 'DiskFailed'; readonly id: DiskOpId; readonly error: DiskError; readonly now?: number };

export interface PartitionLogOptions {
  /** Allocator of node-unique disk op ids (share one across the logs of a node). */
  readonly nextDiskOpId?: NextDiskOpId;
}

export class PartitionLog {
  state: LogState = 'new';
  segments: Segment[] = [];
  logStartOffset = 0;
  logEndOffset = 0;
  durableOffset = 0;
  highWatermark = 0;
  recoveryPoint = 0;
  readonly epochs: { cache: LeaderEpochCache } = { cache: new LeaderEpochCache() };
  readonly corruption: Corruption[] = [];
  /** REC-LOG: recycled segment files available to the next rolls (oldest first). */
  recycled: RecycleSlot[] = [];
  readonly q: DiskQueue;
  tail: TailCache;
  events: LogEvent[] = [];
  private queued: Action[] = [];
  private pendingBytes = 0;
  /** LOG-15: appends only accumulate until uncork(). */
  private corked = false;
  /**
   * Commits in flight, oldest first (LOG-4: completions arrive in this order). A commit drains the
   * whole queue, so once it is emitted everything below logEndOffset is handed to the disk.
   */
  private inflight: Commit[] = [];
  private pendingTruncate = -1;
  /**
   * CKPT-3: how many truncations' checkpoints (a lowered log start, high watermark, recovery
   * point, epoch cache) are not yet durable. Appends are taken meanwhile, but none becomes durable
   * (acknowledged) before them: else a crash would recover the old log start above offsets
   * already acknowledged again, and hide them. `heldDurable`: the durable end reached meanwhile.
   */
  private truncationCkpts = 0;
  private heldDurable = -1;
  private busyJobs = 0;
  /**
   * Disk walks of reads and timestamp lookups in flight, each with the lowest log end a truncation
   * set while it ran (Infinity: none): an overtaken walk starts again, bounded by it (LOG-12). A
   * compaction swap waits until there are none (a walk must see one file, LOG-13).
   */
  private readonly openWalks = new Set<{ cut: number }>();
  private swapQueue: (() => void)[] = [];
  /** LOG-14: disk reads that arrived while a swap waited for walks; started once the swaps ran. */
  private behindSwaps: (() => void)[] = [];
  private ckptInFlight = false;
  private ckptAgain = false;
  private ckptWaiters: (() => void)[] = [];
  /** Content of each checkpoint file as last emitted: an unchanged one is not rewritten. */
  private readonly ckptEmitted = new Map<string, Uint8Array>();
  /** Segment with writes not yet covered by a sync (only with flushMessages > 1). */
  private dirty: Segment | null = null;
  private flushRequested = false;
  private nowMs = 0;
  private lastSyncMs = 0;
  /** SEG-4: when the last commit completed (the log's idle time counts from it). */
  private restSinceMs = 0;
  /** SEG-4: flush() asked for the terminator once the log is at rest. */
  private terminateAtRest = false;

  constructor(
    readonly config: LogConfig,
    opts: PartitionLogOptions = {},
  ) {
    this.q = new DiskQueue(opts.nextDiskOpId ?? counterIds());
    this.tail = new TailCache(config.tailCacheBytes);
  }

  // ------------------------------------------------------------------------------------------
  // Driving

  /** Lists the directory, reads checkpoints, recovers; emits a 'ready' event when done. */
  start(stamp: Stamp): Effect[] {
    if (this.state !== 'new') throw new Error('LOG: start twice');
    startRecovery(this, stamp);
    return this.q.take();
  }

  /** True if `id` is one of this log's outstanding disk ops (for routing completions). */
  owns(id: DiskOpId): boolean {
    return this.q.owns(id);
  }

  /** Feeds a DiskDone / DiskFailed for one of this log's ops. */
  onDisk(input: DiskCompletion): Effect[] {
    if (input.now !== undefined && input.now > this.nowMs) this.nowMs = input.now;
    const p = this.q.complete(input.id);
    if (input.tag === 'DiskDone') p.onDone?.(input.result);
    else if (p.onFail !== undefined) p.onFail(input.error);
    else this.fail(`${p.op.kind} ${'file' in p.op ? p.op.file : ''} failed: ${input.error}`);
    return this.q.take();
  }

  takeEvents(): LogEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  /** Marks the log offline (Kafka: log dir failure). Durability never advances again. */
  fail(error: string): void {
    if (this.state === 'failed') return;
    this.state = 'failed';
    this.events.push({ kind: 'failed', error });
  }

  // ------------------------------------------------------------------------------------------
  // Append and group commit (LOG-4)

  get activeSegment(): Segment {
    const s = this.segments[this.segments.length - 1];
    if (s === undefined) throw new Error('LOG: no active segment');
    return s;
  }

  /**
   * Appends one or more concatenated, already validated batches: stamps baseOffset and
   * partitionLeaderEpoch in place (the CRC stays valid) and queues the bytes for group commit.
   * The buffer is kept (tail cache, pending write): the caller must not reuse it.
   */
  append(batches: Uint8Array, leaderEpoch: number, stamp: Stamp): AppendResult & { effects: Effect[] } {
    // No closure here: under tsx every closure creation also pays esbuild's __name helper.
    if (this.state === 'failed') return appendError('KAFKA_STORAGE_ERROR');
    if (this.state !== 'ready' || this.pendingTruncate >= 0) return appendError('NOT_READY');
    if (this.pendingBytes + batches.length > this.config.maxPendingBytes) return appendError('BUFFER_FULL');
    const check = this.checkBatches(batches);
    if (check !== 'NONE') return appendError(check);
    const baseOffset = this.logEndOffset;
    this.nowMs = stamp.now;
    for (let off = 0; off < batches.length; ) {
      const size = batchSizeAt(batches, off);
      this.appendOne(batches, off, size, leaderEpoch, stamp);
      off += size;
    }
    if (!this.corked) this.commit();
    return { error: 'NONE', baseOffset, lastOffset: this.logEndOffset - 1, effects: this.q.take() };
  }

  /**
   * LOG-15: until uncork(), appends only accumulate (one turn's appends go out as one commit).
   * The host must uncork at the end of the same turn: nothing corked becomes durable before it.
   */
  cork(): void {
    this.corked = true;
  }

  /** LOG-15: ends a cork; starts the commit the corked appends would have started. */
  uncork(): Effect[] {
    this.corked = false;
    this.commit();
    return this.q.take();
  }

  private checkBatches(batches: Uint8Array): LogError {
    let off = 0;
    for (let n = 0; off < batches.length; n++) {
      const size = batchSizeAt(batches, off);
      if (size < BATCH_HEADER_SIZE || off + size > batches.length) return 'CORRUPT_MESSAGE';
      if (size > this.config.segmentBytes) return 'RECORD_BATCH_TOO_LARGE';
      if (lastOffsetDeltaAt(batches, off) < 0) return 'CORRUPT_MESSAGE';
      off += size;
    }
    return off === batches.length && off > 0 ? 'NONE' : 'CORRUPT_MESSAGE';
  }

  private appendOne(buf: Uint8Array, off: number, size: number, leaderEpoch: number, stamp: Stamp): void {
    const base = this.logEndOffset;
    const last = base + lastOffsetDeltaAt(buf, off);
    if (this.shouldRoll(size, last, stamp)) this.rollActive();
    const seg = this.activeSegment;
    stampBatch(buf, off, base, leaderEpoch);
    if (leaderEpoch >= 0 && leaderEpoch !== this.epochs.cache.latestEpoch()) this.epochs.cache.assign(leaderEpoch, base);
    const position = seg.sizeBytes;
    if (seg.createdWallMs < 0) seg.createdWallMs = stamp.wall;
    seg.onBatch(buf, off, size, base, last, this.config.indexIntervalBytes);
    const view = off === 0 && size === buf.length ? buf : buf.subarray(off, off + size);
    this.tail.add(base, last, view);
    this.queueData(seg, position, view);
    this.logEndOffset = last + 1;
  }

  private shouldRoll(size: number, lastOffset: number, stamp: Stamp): boolean {
    const seg = this.activeSegment;
    if (seg.sizeBytes === 0) return false;
    if (seg.sizeBytes + size > this.config.segmentBytes) return true;
    if (!seg.canHoldOffset(lastOffset)) return true;
    return seg.createdWallMs >= 0 && stamp.wall - seg.createdWallMs >= this.config.segmentMs;
  }

  private queueData(seg: Segment, position: number, view: Uint8Array): void {
    const last = this.queued[this.queued.length - 1];
    if (last !== undefined && last.kind === 'data' && last.seg === seg && last.position + last.bytes === position) {
      last.views.push(view);
      last.bytes += view.length;
    } else {
      this.queued.push({ kind: 'data', seg, position, views: [view], bytes: view.length });
    }
    this.pendingBytes += view.length;
  }

  /** Forces a roll of a non-empty active segment (tests, admin); rolls are otherwise by size/age. */
  roll(): Effect[] {
    if (this.state === 'ready' && this.pendingTruncate < 0 && this.activeSegment.sizeBytes > 0) {
      this.rollActive();
      this.commit();
    }
    return this.q.take();
  }

  private rollActive(): void {
    const old = this.activeSegment;
    const next = new Segment(this.config.dir, this.logEndOffset);
    this.segments.push(next);
    this.queued.push({ kind: 'roll', old, next });
  }

  /**
   * Emits everything queued as one commit (LOG-4): when none is in flight, or — pipelined — when
   * it is one durable write of at most pipelineMaxBytes and fewer than commitDepth commits, all
   * such writes, are in flight.
   */
  private commit(): void {
    if (this.state !== 'ready') return;
    if (this.queued.length === 0 && !(this.flushRequested && this.dirty !== null)) return;
    const single = this.durableWriteAction();
    // `piped`: one durable write small enough (pipelineMaxBytes) to overlap other commits.
    const piped = single !== null && this.config.commitDepth > 1 && single.bytes <= this.config.pipelineMaxBytes;
    if (this.inflight.length > 0) {
      if (!piped || this.inflight.length >= this.config.commitDepth) return;
      for (const c of this.inflight) if (!c.piped) return;
    }
    const actions = this.queued;
    this.queued = [];
    this.pendingBytes = 0;
    // Every queued action is emitted below, so the commit ends at logEndOffset (and a roll's old
    // segment at the next one's base offset).
    const commit: Commit = { syncedEnd: this.durableOffset, rolled: false, piped };
    let lastOp = -1;
    if (single !== null) {
      // One data write that syncs itself (io contract: a durable write covers its own bytes):
      // the whole commit is one op, so the disk may overlap it with the commits before it.
      lastOp = this.q.emit({ kind: 'write', file: single.seg.logFile, offset: single.position, data: writeData(single.views, single.bytes), sync: true });
      single.seg.writtenBytes = Math.max(single.seg.writtenBytes, single.position + single.bytes);
      commit.syncedEnd = this.logEndOffset;
    } else {
      for (const a of actions) {
        if (a.kind === 'data') {
          lastOp = this.q.emit({ kind: 'write', file: a.seg.logFile, offset: a.position, data: writeData(a.views, a.bytes) });
          a.seg.writtenBytes = Math.max(a.seg.writtenBytes, a.position + a.bytes);
          this.dirty = a.seg;
        } else {
          if (this.dirty !== null && this.dirty !== a.old) throw new Error('LOG-4: unsynced writes outside the rolled segment');
          lastOp = this.emitRoll(a.old, a.next); // syncs everything written to the old segment
          this.dirty = null;
          commit.syncedEnd = a.next.baseOffset;
          commit.rolled = true;
        }
      }
      if (this.dirty !== null && this.shouldSyncNow(this.logEndOffset)) {
        lastOp = this.q.emit({ kind: 'sync', file: this.dirty.logFile });
        this.dirty = null;
        commit.syncedEnd = this.logEndOffset;
      }
    }
    if (lastOp < 0) throw new Error('LOG-4: empty commit');
    if (commit.syncedEnd > this.durableOffset) {
      this.lastSyncMs = this.nowMs;
      this.flushRequested = false;
    }
    this.inflight.push(commit);
    this.q.attach(lastOp, this.onCommitDone);
    this.tail.evict(this.logEndOffset);
  }

  /**
   * The queued commit as one durable write, if it can be: a single data action (it ends at
   * logEndOffset), to a segment with no unsynced write before it, that the flush policy syncs now.
   */
  private durableWriteAction(): DataAction | null {
    if (this.queued.length !== 1 || this.dirty !== null) return null;
    const a = this.queued[0];
    return a.kind === 'data' && this.shouldSyncNow(this.logEndOffset) ? a : null;
  }

  /**
   * SEG-4: at rest, a recycled active segment's logical end gets its zero terminator (a durable
   * write, in `inflight` as a commit that makes nothing durable; `piped`, so the next commit may
   * follow it at once: the disk orders the two, whose bytes intersect).
   */
  private terminate(): void {
    if (this.state !== 'ready' || this.inflight.length > 0 || this.queued.length > 0 || this.dirty !== null || this.pendingTruncate >= 0) return;
    this.terminateAtRest = false;
    const seg = this.activeSegment;
    if (!seg.dirtyTail || seg.terminatedAt === seg.sizeBytes || seg.sizeBytes + TERMINATOR.length > this.config.segmentBytes) return;
    seg.terminatedAt = seg.sizeBytes;
    const op = this.q.emit({ kind: 'write', file: seg.logFile, offset: seg.sizeBytes, data: TERMINATOR, sync: true });
    this.inflight.push({ syncedEnd: this.durableOffset, rolled: false, piped: true });
    this.q.attach(op, this.onCommitDone);
  }

  /** flush.messages / flush.ms policy; the default (1) syncs every commit. */
  private shouldSyncNow(endOffset: number): boolean {
    const c = this.config;
    if (c.flushMessages <= 1 || this.flushRequested) return true;
    if (endOffset - this.durableOffset >= c.flushMessages) return true;
    return c.flushMs >= 0 && this.nowMs - this.lastSyncMs >= c.flushMs;
  }

  /**
   * Syncs everything written so far (flush.messages > 1); a 'durable' event follows. Once the log
   * is then at rest, a recycled active segment gets its terminator (SEG-4: a clean shutdown
   * flushes, waits for its 'durable', then for the disk to be idle).
   */
  flush(): Effect[] {
    if (this.state === 'ready') {
      this.flushRequested = true;
      this.terminateAtRest = true;
      this.commit();
      this.terminate();
    }
    return this.q.take();
  }

  /** Time passes: applies flush.ms. Harmless to call often. */
  tick(stamp: Stamp): Effect[] {
    this.nowMs = stamp.now;
    const c = this.config;
    if (this.dirty !== null && c.flushMs >= 0 && this.nowMs - this.lastSyncMs >= c.flushMs) return this.flush();
    if (this.nowMs - this.restSinceMs >= TERMINATOR_IDLE_MS) this.terminate(); // SEG-4: at rest
    return this.q.take();
  }

  /**
   * The DiskDone of a commit's last op. Commits' last ops complete in emission order (DQ-1) and
   * `inflight` is in that order, so it is the oldest commit in flight; once one fails the log is
   * failed and later ones return here without shifting. Bound once (no closure per commit).
   */
  private readonly onCommitDone = (): void => {
    if (this.state !== 'ready') return; // an earlier op failed: nothing more becomes durable
    const commit = this.inflight.shift();
    if (commit === undefined) throw new Error('LOG-4: completion of a commit not in flight');
    const end = Math.min(commit.syncedEnd, this.logEndOffset);
    if (this.truncationCkpts > 0) this.heldDurable = Math.max(this.heldDurable, end);
    else this.advanceDurable(end);
    if (commit.rolled) {
      // Only now (every op before succeeded, in order) may the recovery point pass the rolled
      // segments: they are trimmed, synced and their indexes written (LOG-6).
      this.recoveryPoint = Math.max(this.recoveryPoint, this.segmentBaseAtOrBelow(this.durableOffset));
      this.writeCheckpoints();
    }
    this.restSinceMs = this.nowMs; // SEG-4: idle time counts from the last completion
    this.commit();
    if (this.terminateAtRest) this.terminate(); // SEG-4: a flush asked for it
    this.runDeferred();
  };

  /** LOG-1: everything below `end` is durable (a 'durable' event if that moves it). */
  private advanceDurable(end: number): void {
    if (end <= this.durableOffset) return;
    this.durableOffset = end;
    this.events.push({ kind: 'durable', offset: end });
  }

  /** Roll ops: trim the old segment, persist its indexes, create the next one (SEG-1). */
  private emitRoll(old: Segment, next: Segment): DiskOpId {
    old.sealTimeIndex();
    this.q.emit({ kind: 'truncate', file: old.logFile, size: old.sizeBytes });
    const syncId = this.q.emit({ kind: 'sync', file: old.logFile });
    this.emitIndexFiles(old);
    this.emitCreateSegment(next);
    return syncId;
  }

  /** Creates a segment file (zero prefix = empty), preallocates it and makes its name durable. */
  emitCreateSegment(seg: Segment): void {
    if (this.config.segmentRecycling && this.reuseSlot(seg)) return;
    this.q.emit({ kind: 'write', file: seg.logFile, offset: 0, data: new Uint8Array(12) });
    this.q.emit({ kind: 'truncate', file: seg.logFile, size: 0 });
    this.q.emit({ kind: 'allocate', file: seg.logFile, size: this.config.segmentBytes });
    this.q.emit({ kind: 'sync', file: seg.logFile });
    this.q.emit({ kind: 'syncDir', dir: this.config.dir });
  }

  /**
   * REC-LOG / SEG-4: makes `seg` from a recycled file whose bound is <= its base offset: zero and
   * sync the slot's first 12 bytes, then rename, preallocate (extends only), sync, syncDir.
   */
  private reuseSlot(seg: Segment): boolean {
    const i = this.recycled.findIndex((r) => r.bound <= seg.baseOffset);
    if (i < 0) return false;
    const [slot] = this.recycled.splice(i, 1);
    const file = recycleFile(this.config.dir, slot.bound);
    const failed = (e: DiskError): void => this.fail(`recycle ${file} failed: ${e}`);
    this.q.emit({ kind: 'write', file, offset: 0, data: TERMINATOR }, undefined, failed);
    this.q.emit({ kind: 'sync', file }, undefined, failed);
    this.q.emit({ kind: 'rename', from: file, to: seg.logFile }, undefined, failed);
    this.q.emit({ kind: 'allocate', file: seg.logFile, size: this.config.segmentBytes });
    seg.dirtyTail = true;
    this.q.emit({ kind: 'sync', file: seg.logFile });
    this.q.emit({ kind: 'syncDir', dir: this.config.dir });
    return true;
  }

  /** Retention's removal of a whole segment: recycled into a free slot when enabled (REC-LOG). */
  private emitDropSegment(seg: Segment): void {
    if (!this.config.segmentRecycling || this.recycled.length >= RECYCLE_SLOTS || seg.nextOffset <= seg.baseOffset) {
      return this.emitRemoveSegment(seg);
    }
    const bound = seg.nextOffset;
    if (this.recycled.some((r) => r.bound === bound)) return this.emitRemoveSegment(seg);
    this.emitRemove(seg.indexFile);
    this.emitRemove(seg.timeIndexFile);
    this.q.emit({ kind: 'rename', from: seg.logFile, to: recycleFile(this.config.dir, bound) }, undefined, (e) => this.fail(`recycle ${seg.logFile} failed: ${e}`));
    this.recycled.push({ bound });
  }

  /**
   * Writes a rolled segment's index files in place (full rewrite) and syncs them. Only for a
   * segment the checkpointed recovery point has not passed: a roll's checkpoint is emitted after
   * these syncs, so a crash before they complete leaves the segment to be scanned (LOG-6).
   */
  private emitIndexFiles(seg: Segment): void {
    for (const [file, data] of indexFiles(seg)) {
      this.q.emit({ kind: 'write', file, offset: 0, data });
      this.q.emit({ kind: 'truncate', file, size: data.length });
      this.q.emit({ kind: 'sync', file });
    }
  }

  /**
   * IDX-1: replaces the index files of a segment that may lie below the checkpointed recovery
   * point (recovery's rebuild, a compaction swap) atomically, each under a temp name, synced, then
   * renamed (CKPT-1's sequence); `then` runs once both are in place. Written in place, a crash
   * could leave a name that is durable over data that is not (a real file system may persist a
   * new directory entry before the file's data), and a torn time index passes LOG-6's checks.
   */
  emitIndexFilesAtomic(seg: Segment, then?: () => void): void {
    let left = 2;
    for (const [file, data] of indexFiles(seg)) {
      this.emitAtomicWrite(file.slice(this.config.dir.length + 1), data, () => {
        if (--left === 0) then?.();
      });
    }
  }

  // ------------------------------------------------------------------------------------------
  // Checkpoints (CKPT-1)

  /** Writes recovery point, high watermark, log start offset and the leader-epoch cache. */
  checkpoint(): Effect[] {
    if (this.state === 'ready') this.writeCheckpoints();
    return this.q.take();
  }

  /** Base offset of the segment holding `offset` (the recovery point may rise to it). */
  private segmentBaseAtOrBelow(offset: number): number {
    return this.segments[this.segmentIndexFor(offset)].baseOffset;
  }

  /**
   * Writes the four checkpoints atomically (CKPT-1), then calls `then` once all are renamed
   * into place and their directory synced.
   */
  writeCheckpoints(then?: () => void): void {
    if (then !== undefined) this.ckptWaiters.push(then);
    if (this.ckptInFlight) {
      this.ckptAgain = true; // one set of tmp files at a time; rewrite with fresh values after
      return;
    }
    this.ckptInFlight = true;
    this.ckptAgain = false;
    const waiters = this.ckptWaiters;
    this.ckptWaiters = [];
    const { topic, partition } = this.config;
    const one = (offset: number): Uint8Array => encodeCheckpoint([[topic, partition, offset]]);
    const files: [string, Uint8Array][] = [
      [CKPT_RECOVERY_POINT, one(this.recoveryPoint)],
      [CKPT_HIGH_WATERMARK, one(this.highWatermark)],
      [CKPT_LOG_START, one(this.logStartOffset)],
      [CKPT_LEADER_EPOCH, this.epochs.cache.encode()],
    ];
    // Only changed files are rewritten (a roll otherwise paid 4 x write, truncate, sync, rename,
    // syncDir); the recovery point always is, so every call emits ops and completes via them.
    const changed = files.filter(([name, data], i) => {
      const before = this.ckptEmitted.get(name);
      return i === 0 || before === undefined || !sameBytes(before, data);
    });
    for (const [name, data] of changed) this.ckptEmitted.set(name, data);
    // CKPT-2: the recovery point goes last, once the others are durable. Segments below it are
    // trusted without a scan at recovery (LOG-6), so what a scan would have rebuilt from them
    // (their leader epochs) must already be on disk; so must the log start and high watermark
    // the same state produced (a crash between two renames keeps the first only).
    const [recoveryPoint, ...others] = changed;
    const done = (): void => {
      this.ckptInFlight = false;
      for (const w of waiters) w();
      if (this.ckptAgain || this.ckptWaiters.length > 0) this.writeCheckpoints();
    };
    const last = (): void => this.emitAtomicWrite(recoveryPoint[0], recoveryPoint[1], done);
    let left = others.length;
    if (left === 0) return last();
    for (const [name, data] of others) this.emitAtomicWrite(name, data, () => (--left === 0 ? last() : undefined));
  }

  /**
   * write `name.tmp`, truncate, sync — and only once that sync succeeded, rename over `name` and
   * syncDir (a failed sync drops the tmp's data: renaming it then would destroy the old file).
   */
  private emitAtomicWrite(name: string, data: Uint8Array, then?: () => void): void {
    const [write, truncate, sync, rename, syncDir] = atomicWriteOps(this.config.dir, name, data);
    this.q.emit(write);
    this.q.emit(truncate);
    this.q.emit(sync, () => {
      if (this.state === 'failed') return;
      this.q.emit(rename);
      this.q.emit(syncDir, () => then?.());
    });
  }

  /** The owner (broker) reports the high watermark; it is clamped to [logStartOffset, logEndOffset]. */
  setHighWatermark(offset: number): void {
    this.highWatermark = Math.max(this.logStartOffset, Math.min(offset, this.logEndOffset));
  }

  // ------------------------------------------------------------------------------------------
  // Reads

  /**
   * Reads whole batches from the one containing `fetchOffset`: at least one batch, then up to
   * `maxBytes`, only batches entirely below `upperBound` (high watermark or durable offset).
   * The answer arrives as a 'read' event with `token` (immediately when served from memory).
   */
  read(fetchOffset: number, maxBytes: number, upperBound: number, token: number): Effect[] {
    this.startRead(fetchOffset, maxBytes, upperBound, token);
    return this.q.take();
  }

  private startRead(fetchOffset: number, maxBytes: number, upperBound: number, token: number): void {
    const answer = (error: LogError, chunks: Uint8Array[] = []): void => this.answerRead(token, error, chunks);
    if (this.state === 'failed') return answer('KAFKA_STORAGE_ERROR');
    if (this.state !== 'ready') return answer('NOT_READY');
    if (fetchOffset < this.logStartOffset || fetchOffset > this.logEndOffset) return answer('OFFSET_OUT_OF_RANGE');
    const bound = Math.min(upperBound, this.logEndOffset);
    if (fetchOffset >= bound) return answer('NONE');
    const fromMemory = this.tail.read(fetchOffset, maxBytes, bound);
    if (fromMemory !== null) return answer('NONE', fromMemory);
    // LOG-14: a swap waiting for walks goes first, or overlapping reads could hold it off forever.
    if (this.swapQueue.length > 0) return void this.behindSwaps.push(() => this.startRead(fetchOffset, maxBytes, upperBound, token));
    this.readFromSegment(this.segmentIndexFor(fetchOffset), fetchOffset, maxBytes, upperBound, token);
  }

  private answerRead(token: number, error: LogError, chunks: Uint8Array[]): void {
    const result: ReadResult = { error, chunks, sizeBytes: totalLength(chunks), logStartOffset: this.logStartOffset, logEndOffset: this.logEndOffset };
    this.events.push({ kind: 'read', token, result });
  }

  /** Index of the segment whose base offset is the largest <= `offset` (0 if below all). */
  segmentIndexFor(offset: number): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.segments[mid].baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** `upperBound` as given to read(); the walk stops below it and below the log end. */
  private readFromSegment(segIndex: number, fetchOffset: number, maxBytes: number, upperBound: number, token: number): void {
    const seg = this.segments[segIndex];
    if (seg === undefined) return this.answerRead(token, 'NONE', []);
    const bound = Math.min(upperBound, this.logEndOffset);
    const chunks: Uint8Array[] = [];
    let total = 0;
    const walk = { cut: Infinity };
    const answer = (end: WalkEnd): void => {
      // LOG-12: a truncation overtook the walk; what it read may be gone (or rewritten): again,
      // below the cut too (the caller's bound, a high watermark or durable offset, came before
      // it, and what was appended since lies above the cut).
      if (walk.cut !== Infinity) return this.startRead(fetchOffset, maxBytes, Math.min(upperBound, walk.cut), token);
      const at = this.segments.indexOf(seg);
      if (at < 0) return this.answerRead(token, 'OFFSET_OUT_OF_RANGE', []);
      if (end.kind === 'ioError') return this.answerRead(token, 'KAFKA_STORAGE_ERROR', []);
      if (end.kind === 'corrupt') {
        this.reportCorruption({ file: seg.logFile, position: end.position, detail: 'invalid batch on read' });
        if (chunks.length === 0) return this.answerRead(token, 'KAFKA_STORAGE_ERROR', []);
      }
      if (chunks.length === 0 && end.kind === 'done' && at + 1 < this.segments.length && this.segments[at + 1].baseOffset < bound) {
        // Nothing at or after fetchOffset here (a compacted gap): continue in the next segment
        // (found again: retention may have removed segments below it meanwhile).
        return this.readFromSegment(at + 1, fetchOffset, maxBytes, upperBound, token);
      }
      this.answerRead(token, 'NONE', chunks);
    };
    this.openWalks.add(walk);
    walkBatches(
      this.q,
      this.walkSpec(seg, fetchOffset),
      (buf, off, size, _base, last) => {
        if (last < fetchOffset) return 'continue';
        if (last >= bound) return 'stop';
        if (chunks.length > 0 && total + size > maxBytes) return 'stop';
        chunks.push(buf.subarray(off, off + size));
        total += size;
        return 'continue';
      },
      (end) => {
        this.openWalks.delete(walk);
        answer(end);
        // Only now may a compaction swap waiting for reads run (it replaces Segment objects): the
        // answer must see the segments this walk read (LOG-13).
        this.runSwapsIfNoWalks();
      },
    );
  }

  /**
   * A disk walk of `seg`'s written bytes from the indexed batch at or before `offset`
   * (segmentWalkSpec); `confirm`: its result becomes state (WALK-2).
   */
  private walkSpec(seg: Segment, offset: number, confirm = false): WalkSpec {
    return segmentWalkSpec(seg, this.config, { start: seg.offsetIndex.lookupEntry(offset), confirm });
  }

  /** LOG-13: compaction swaps waiting for read walks run once none is in flight; then the reads
   *  that queued behind them start (LOG-14). */
  private runSwapsIfNoWalks(): void {
    if (this.openWalks.size === 0 && this.swapQueue.length > 0) {
      const swaps = this.swapQueue;
      this.swapQueue = [];
      for (const swap of swaps) swap();
    }
    if (this.swapQueue.length === 0 && this.behindSwaps.length > 0) {
      const reads = this.behindSwaps;
      this.behindSwaps = [];
      for (const read of reads) read();
    }
  }

  reportCorruption(c: Corruption): void {
    if (this.corruption.some((k) => k.file === c.file && k.position === c.position)) return;
    if (this.corruption.length < 64) this.corruption.push(c);
    this.events.push({ kind: 'corruption', corruption: c });
  }

  /** ListOffsets by time: the first offset whose record timestamp >= `timestamp` (-1 if none), as an event. */
  offsetForTimestamp(timestamp: number, token: number): Effect[] {
    this.startOffsetForTimestamp(timestamp, token, 0);
    return this.q.take();
  }

  /**
   * TS-1 (Kafka's ListOffsets by timestamp): the first offset at or above the log start whose
   * record's timestamp is >= `timestamp`, searching segments from `from` on whose max timestamp
   * reaches it; within one, batches from its time index's entry, every record of a batch whose
   * max timestamp reaches it (a batch without such a record, as compaction leaves them with
   * their old max timestamp, or one below the log start, is passed over), then the next such
   * segment; -1 if none.
   */
  private startOffsetForTimestamp(timestamp: number, token: number, from: number): void {
    const answer = (error: LogError, offset: number): void => {
      this.events.push({ kind: 'offsetForTimestamp', token, error, offset, timestamp });
    };
    if (this.state !== 'ready') return answer('KAFKA_STORAGE_ERROR', -1);
    if (this.swapQueue.length > 0) return void this.behindSwaps.push(() => this.startOffsetForTimestamp(timestamp, token, from)); // LOG-14
    const i = this.segments.findIndex((s, k) => k >= from && s.maxTimestamp >= timestamp && s.nextOffset > this.logStartOffset);
    if (i < 0) return answer('NONE', -1);
    const seg = this.segments[i];
    const minOffset = this.logStartOffset;
    let found = -1;
    const walk = { cut: Infinity };
    this.openWalks.add(walk);
    walkBatches(
      this.q,
      this.walkSpec(seg, Math.max(seg.timeIndex.lookupStart(timestamp), minOffset)),
      (buf, off, _size, base, last) => {
        found = firstOffsetAtOrAfter(buf, off, timestamp, base, last, minOffset);
        return found < 0 ? 'continue' : 'stop';
      },
      (end) => {
        this.openWalks.delete(walk);
        // LOG-12: overtaken by a truncation, or retention removed the segment (its file is gone): again.
        if (walk.cut !== Infinity || !this.segments.includes(seg)) this.startOffsetForTimestamp(timestamp, token, 0);
        else if (end.kind !== 'done') answer('KAFKA_STORAGE_ERROR', -1);
        else {
          if (found < 0) found = this.findInTail(timestamp, seg, minOffset);
          if (found >= 0 || this.logStartOffset > minOffset) {
            if (found >= this.logStartOffset) answer('NONE', found);
            else this.startOffsetForTimestamp(timestamp, token, 0); // the log start moved meanwhile
          } else this.startOffsetForTimestamp(timestamp, token, this.segments.indexOf(seg) + 1);
        }
        this.runSwapsIfNoWalks(); // after the answer (LOG-13)
      },
    );
  }

  /** Unwritten batches of `seg` are only in the tail cache (TAIL-2). */
  private findInTail(timestamp: number, seg: Segment, minOffset: number): number {
    const all = this.tail.read(this.tail.startOffset(Infinity), Infinity, Infinity) ?? [];
    for (const b of all) {
      const base = baseOffsetAt(b, 0);
      if (base < seg.baseOffset || base >= seg.nextOffset) continue;
      const found = firstOffsetAtOrAfter(b, 0, timestamp, base, base + lastOffsetDeltaAt(b, 0), minOffset);
      if (found >= 0) return found;
    }
    return -1;
  }

  // ------------------------------------------------------------------------------------------
  // Truncation (replication divergence)

  /**
   * Removes every batch containing an offset >= `offset` (Kafka removes the whole batch holding
   * it). Deferred until no commit is in flight; appends are refused meanwhile. A 'truncated'
   * event reports the new log end offset.
   */
  truncateTo(offset: number): Effect[] {
    if (this.state !== 'ready') return [];
    this.pendingTruncate = this.pendingTruncate < 0 ? offset : Math.min(this.pendingTruncate, offset);
    this.runDeferred();
    return this.q.take();
  }

  private runDeferred(): void {
    if (this.pendingTruncate < 0 || this.inflight.length > 0 || this.queued.length > 0 || this.busyJobs > 0) return;
    if (this.state !== 'ready') return;
    const target = this.pendingTruncate;
    if (target >= this.logEndOffset) {
      this.pendingTruncate = -1;
      this.events.push({ kind: 'truncated', logEndOffset: this.logEndOffset });
      return;
    }
    if (target < this.segments[0].baseOffset) return this.truncateFully(target);
    if (target === this.segments[0].baseOffset) return this.applyTruncation(0, 0, target, NO_TIMESTAMP);
    const segIndex = this.segmentIndexFor(target);
    const seg = this.segments[segIndex];
    this.busyJobs++;
    let cut = -1;
    let cutOffset = -1;
    let keptEnd = -1; // LOG-11: the end of the last kept batch the walk visits
    let keptMax: TimestampAt = NO_TIMESTAMP; // among the kept batches the walk visits
    // WALK-2: the cut becomes state; with gaps allowed, a base offset flipped in flight would move it.
    const spec = this.walkSpec(seg, target, true);
    walkBatches(
      this.q,
      spec,
      (buf, off, _size, base, last, position) => {
        if (last < target) {
          const ts = maxTimestampAt(buf, off);
          if (ts > keptMax.timestamp) keptMax = { timestamp: ts, offset: base };
          keptEnd = last + 1;
          return 'continue';
        }
        cut = position;
        cutOffset = base;
        return 'stop';
      },
      (end) => {
        this.busyJobs--;
        if (end.kind === 'ioError') return this.fail(`truncate read failed: ${end.error}`);
        // LOG-11: the batch holding `target` goes whole (the log then ends at its base). Else the
        // log ends where its data does, at the last kept batch (`target` may lie in a compacted
        // gap, or no batch reaches it: a gap or a corrupt batch), never at an offset the file
        // cannot show: a roll would start the next segment there, and recovery would take the
        // hole for a lost tail.
        const holding = cut >= 0 && cutOffset <= target;
        if (cut < 0) cut = end.position;
        const newEnd = holding ? cutOffset : keptEnd >= 0 ? keptEnd : spec.minOffset;
        this.applyTruncation(segIndex, cut, Math.min(newEnd, target), keptMax);
      },
    );
  }

  private applyTruncation(segIndex: number, position: number, newEnd: number, keptMax: TimestampAt): void {
    const seg = this.segments[segIndex];
    const removed = this.segments.splice(segIndex + 1);
    this.emitRemoveNewestFirst(removed);
    const wasActive = removed.length === 0;
    seg.truncateTo(position, newEnd, keptMax);
    this.q.emit({ kind: 'truncate', file: seg.logFile, size: position });
    this.q.emit({ kind: 'allocate', file: seg.logFile, size: this.config.segmentBytes });
    seg.dirtyTail = false; // everything past the cut is zero again
    if (!wasActive) {
      this.emitRemove(seg.indexFile);
      this.emitRemove(seg.timeIndexFile);
    }
    this.q.emit({ kind: 'sync', file: seg.logFile });
    this.q.emit({ kind: 'syncDir', dir: this.config.dir });
    this.finishTruncation(newEnd);
  }

  /**
   * LOG-10: removes `segs` (consecutive, in offset order) newest first, each removal made durable
   * (syncDir) before the next: a crash then leaves a prefix of the log's segments. A hole would
   * not be seen: recovery trusts the segment below it and takes its end from the next file.
   */
  private emitRemoveNewestFirst(segs: readonly Segment[]): void {
    for (let i = segs.length - 1; i >= 0; i--) {
      this.emitRemoveSegment(segs[i]);
      this.q.emit({ kind: 'syncDir', dir: this.config.dir });
    }
  }

  /**
   * LOG-10 for a cut below the first segment: the new, empty segment at `target` is made durable
   * first, then the old ones go newest first. A crash in between recovers the empty log at
   * `target` (recovery drops the segments behind the gap after it); removing first, a crash
   * after the removals recovered an empty log at the old log start, neither state (found in
   * review).
   */
  private truncateFully(target: number): void {
    const old = this.segments;
    const seg = new Segment(this.config.dir, target);
    this.emitCreateSegment(seg);
    this.emitRemoveNewestFirst(old);
    this.segments = [seg];
    this.logStartOffset = target;
    this.finishTruncation(target);
  }

  private finishTruncation(newEnd: number): void {
    this.pendingTruncate = -1;
    for (const walk of this.openWalks) walk.cut = Math.min(walk.cut, newEnd); // LOG-12
    this.logEndOffset = newEnd;
    this.durableOffset = Math.min(this.durableOffset, newEnd);
    // Unsynced writes below the cut (flush.messages > 1) still await a flush.
    this.dirty = this.durableOffset < newEnd ? this.activeSegment : null;
    // LOG-3 (as Kafka): a cut below the log start offset (set by DeleteRecords) brings it down too.
    this.logStartOffset = Math.min(this.logStartOffset, newEnd);
    this.highWatermark = Math.min(this.highWatermark, newEnd);
    this.recoveryPoint = Math.min(this.recoveryPoint, this.activeSegment.baseOffset);
    this.tail.truncateFrom(newEnd);
    this.epochs.cache.truncateFromEnd(newEnd);
    // CKPT-3: what was held durable above the cut is gone; below it, it stays durable.
    this.heldDurable = Math.min(this.heldDurable, newEnd);
    this.truncationCkpts++;
    this.writeCheckpoints(() => {
      if (--this.truncationCkpts > 0) return;
      const held = this.heldDurable;
      this.heldDurable = -1;
      if (this.state === 'ready') this.advanceDurable(held);
    });
    this.events.push({ kind: 'truncated', logEndOffset: newEnd });
  }

  emitRemoveSegment(seg: Segment): void {
    this.emitRemove(seg.logFile);
    this.emitRemove(seg.indexFile);
    this.emitRemove(seg.timeIndexFile);
  }

  /** Removes a file; one that is already gone (ENOENT) is fine. */
  emitRemove(file: string): void {
    this.q.emit({ kind: 'remove', file }, undefined, (e) => {
      if (e !== 'ENOENT') this.fail(`remove ${file} failed: ${e}`);
    });
  }

  // ------------------------------------------------------------------------------------------
  // Retention (LOG-5)

  /** Deletes whole non-active segments by retention.ms / retention.bytes / logStartOffset. */
  applyRetention(stamp: Stamp): Effect[] {
    if (this.state !== 'ready' || this.pendingTruncate >= 0 || this.busyJobs > 0) return [];
    const upper = Math.min(this.highWatermark, this.durableOffset);
    const plan = planRetention(this.segments, this.config, stamp.wall, this.logStartOffset, upper);
    if (plan.deleteCount === 0) return [];
    const removed = this.segments.splice(0, plan.deleteCount);
    this.logStartOffset = Math.max(this.logStartOffset, this.segments[0].baseOffset);
    this.epochs.cache.truncateFromStart(this.logStartOffset);
    this.writeCheckpoints();
    for (const s of removed) this.emitDropSegment(s);
    this.q.emit({ kind: 'syncDir', dir: this.config.dir });
    this.events.push({ kind: 'retention', deletedSegments: removed.length, logStartOffset: this.logStartOffset });
    return this.q.take();
  }

  /** DeleteRecords: moves logStartOffset to `offset` (<= high watermark), then drops whole segments below. */
  deleteRecords(offset: number, stamp: Stamp): { error: LogError; effects: Effect[] } {
    if (this.state !== 'ready') return { error: 'KAFKA_STORAGE_ERROR', effects: [] };
    if (offset > this.highWatermark || offset < 0) return { error: 'OFFSET_OUT_OF_RANGE', effects: [] };
    if (offset > this.logStartOffset) {
      this.logStartOffset = offset;
      this.epochs.cache.truncateFromStart(offset);
      this.writeCheckpoints();
    }
    const effects = this.q.take();
    return { error: 'NONE', effects: [...effects, ...this.applyRetention(stamp)] };
  }

  // ------------------------------------------------------------------------------------------
  // Compaction (cleanup.policy=compact; see compaction.ts)

  /**
   * Cleans the non-active segments wholly below min(high watermark, durable offset, recovery
   * point) — at most `maxBytes` of them per run — as Kafka's cleaner does. Each cleaned segment is
   * swapped in atomically: write `.cleaned`, sync, drop the old index files, rename over the
   * `.log`, syncDir, then the new indexes, each atomically (IDX-1). Emits a 'compacted' event per rewritten segment.
   */
  compact(stamp: Stamp, maxBytes = 64 * 1024 * 1024): Effect[] {
    if (this.state !== 'ready' || this.config.cleanupPolicy !== 'compact') return [];
    if (this.busyJobs > 0 || this.pendingTruncate >= 0) return [];
    const upper = Math.min(this.highWatermark, this.durableOffset, this.recoveryPoint);
    const range: Segment[] = [];
    let bytes = 0;
    for (let i = 0; i + 1 < this.segments.length && this.segments[i + 1].baseOffset <= upper; i++) {
      if (range.length > 0 && bytes + this.segments[i].sizeBytes > maxBytes) break;
      range.push(this.segments[i]);
      bytes += this.segments[i].sizeBytes;
    }
    if (range.length === 0) return [];
    this.busyJobs++;
    // Each segment is read twice and must match: rewriting is where a bit flipped in flight (in
    // a baseOffset, which the CRC does not cover) would otherwise become permanent (CMP-5).
    const bufs: Uint8Array[] = [];
    let ok = true;
    range.forEach((seg, i) => {
      for (let copy = 0; copy < 2; copy++) {
        const last = i === range.length - 1 && copy === 1;
        this.q.emit(
          { kind: 'read', file: seg.logFile, offset: 0, length: seg.sizeBytes },
          (r) => {
            const data = r.data ?? new Uint8Array(0);
            if (copy === 0) bufs[i] = data;
            else if (bufs[i] === undefined || !sameBytes(bufs[i], data)) ok = false;
            if (last) this.compactRange(range, bufs, ok, stamp);
          },
          () => {
            ok = false;
            if (last) this.compactRange(range, bufs, ok, stamp);
          },
        );
      }
    });
    return this.q.take();
  }

  private compactRange(range: Segment[], bufs: Uint8Array[], readOk: boolean, stamp: Stamp): void {
    const finish = (): void => {
      this.busyJobs--;
      this.runDeferred();
    };
    if (!readOk || this.state !== 'ready') return finish();
    for (let i = 0; i < range.length; i++) {
      // Every batch must end below the segment's next offset: a base offset rotted at rest (not
      // CRC-covered) is corrupt here, the last batch's too, never handed to the swap.
      const r = scanBatches(bufs[i], 0, range[i].baseOffset, this.config.segmentBytes, true, false, () => {}, range[i].nextOffset);
      // A bad read (or rot, which reads will report) aborts this run; the next run retries.
      if (bufs[i].length !== range[i].sizeBytes || r.position !== range[i].sizeBytes) return finish();
    }
    const map: KeyMap = new Map();
    for (const b of bufs) if (addToKeyMap(b, map) !== null) return finish();
    const swaps: { seg: Segment; bytes: Uint8Array }[] = [];
    range.forEach((seg, i) => {
      // CMP-6: by the broker's clock since the first pass over the segment, not by the records'
      // own timestamps (a producer's clock): a tombstone written moments ago with an old
      // CreateTime was dropped at once (found in review).
      if (seg.firstCleanedWallMs < 0) seg.firstCleanedWallMs = stamp.wall;
      const dropTombstones = stamp.wall - seg.firstCleanedWallMs > this.config.deleteRetentionMs;
      const res = cleanSegment(bufs[i], map, dropTombstones);
      if (!('error' in res) && res.recordsRemoved > 0) swaps.push({ seg, bytes: res.bytes });
    });
    // busyJobs stays raised (truncation and retention wait) until every swap is in place.
    let left = swaps.length;
    if (left === 0) return finish();
    for (const { seg, bytes } of swaps) {
      this.swapCleaned(seg, bytes, () => {
        if (--left === 0) finish();
      });
    }
  }

  /** Atomically replaces `seg`'s file with `bytes` (same base offset, same offsets). */
  private swapCleaned(seg: Segment, bytes: Uint8Array, done: () => void): void {
    const cleaned = `${seg.logFile}.cleaned`;
    this.q.emit({ kind: 'write', file: cleaned, offset: 0, data: bytes });
    this.q.emit({ kind: 'truncate', file: cleaned, size: bytes.length });
    // The swap is emitted only once `.cleaned` is durable: after a failed sync its data is gone,
    // and renaming it over the segment would destroy the segment.
    this.q.emit({ kind: 'sync', file: cleaned }, () => this.swapIn(seg, cleaned, bytes, done));
  }

  private swapIn(seg: Segment, cleaned: string, bytes: Uint8Array, done: () => void): void {
    if (this.openWalks.size > 0) {
      // A read walk must see one version of the file: swap once no walk is in progress.
      this.swapQueue.push(() => this.swapIn(seg, cleaned, bytes, done));
      return;
    }
    const at = this.segments.indexOf(seg);
    if (this.state !== 'ready' || at < 0 || at === this.segments.length - 1) {
      this.emitRemove(cleaned);
      return done();
    }
    this.emitRemove(seg.indexFile);
    this.emitRemove(seg.timeIndexFile);
    this.q.emit({ kind: 'syncDir', dir: this.config.dir });
    this.q.emit({ kind: 'rename', from: cleaned, to: seg.logFile });
    this.q.emit({ kind: 'syncDir', dir: this.config.dir });
    const next = new Segment(this.config.dir, seg.baseOffset);
    scanBatches(bytes, 0, seg.baseOffset, this.config.segmentBytes, true, false, (off, size, base, last) => {
      next.onBatch(bytes, off, size, base, last, this.config.indexIntervalBytes);
    });
    if (next.sizeBytes !== bytes.length) throw new Error('CMP-2: cleaned segment does not scan whole');
    next.writtenBytes = next.sizeBytes;
    next.nextOffset = seg.nextOffset; // offsets never move, even if the last batch went
    next.firstCleanedWallMs = seg.firstCleanedWallMs; // CMP-6
    next.maxTimestamp = Math.max(next.maxTimestamp, seg.maxTimestamp);
    next.sealTimeIndex();
    this.segments[at] = next;
    this.tail.dropBelow(seg.nextOffset); // memory must not serve what the cleaner removed
    this.events.push({ kind: 'compacted', segmentBase: seg.baseOffset, bytesBefore: seg.sizeBytes, bytesAfter: next.sizeBytes });
    // IDX-1: the segment lies below the recovery point; until its new indexes are renamed into
    // place it has none, and a recovery then scans it. busyJobs stays raised until they are.
    this.emitIndexFilesAtomic(next, done);
  }
}

/** A segment's index files and their contents. */
const indexFiles = (seg: Segment): readonly (readonly [string, Uint8Array])[] => [
  [seg.indexFile, seg.offsetIndex.serialize()],
  [seg.timeIndexFile, seg.timeIndex.serialize()],
];

/** SEG-4's terminator: a zero batchLength prefix ends every scan. */
const TERMINATOR = new Uint8Array(12);
/** SEG-4: a recycled active segment idle this long (at a tick) gets its terminator. */
export const TERMINATOR_IDLE_MS = 50;

const appendError = (error: LogError): AppendResult & { effects: Effect[] } => ({ error, baseOffset: -1, lastOffset: -1, effects: [] });

/** Offset of the batch's first record at or above `minOffset` with timestamp >= `timestamp`, or
 *  -1 if it has none (TS-1): at once from the header when it ends below `minOffset` or its max
 *  timestamp is below `timestamp`; an undecodable batch answers its base (or -1 below `minOffset`). */
const firstOffsetAtOrAfter = (buf: Uint8Array, off: number, timestamp: number, base: number, last: number, minOffset: number): number => {
  if (last < minOffset || maxTimestampAt(buf, off) < timestamp) return -1;
  let found = -1;
  const header = readBatchHeader(buf, off);
  const r = forEachRecord(
    buf,
    off,
    (v) => {
      if (found >= 0) return false;
      if (recordTimestamp(header, v.timestampDelta) >= timestamp && base + v.offsetDelta >= minOffset) found = base + v.offsetDelta;
      return found < 0;
    },
    { verifyCrc: false },
  );
  if ('error' in r) return base >= minOffset ? base : -1;
  return found;
};

/** Most chunks in one gathered write (Linux's IOV_MAX); more are copied into one array. */
const MAX_CHUNKS = 1024;

/**
 * A commit's data write (LOG-9): the batches' own bytes, no copy. Views lying back to back in one
 * buffer (batches carved from one network read) merge into one chunk. One chunk is written as it
 * is, up to MAX_CHUNKS as a gathered write (writev), more are copied into one array.
 */
const writeData = (views: readonly Uint8Array[], total: number): WriteData => {
  // One view (a lone append between commits) is the write as it is: no array, no run.
  if (views.length === 1) {
    if (views[0].length !== total) throw new Error('LOG-9: commit size mismatch');
    return views[0];
  }
  const chunks: Uint8Array[] = [];
  let runStart = views[0]; // first view of the current run; the run ends at runEnd
  let runEnd = runStart.byteOffset + runStart.length;
  let bytes = runStart.length;
  for (let i = 1; i < views.length; i++) {
    const v = views[i];
    bytes += v.length;
    if (v.buffer === runStart.buffer && v.byteOffset === runEnd) {
      runEnd += v.length;
    } else {
      chunks.push(runOf(runStart, runEnd));
      runStart = v;
      runEnd = v.byteOffset + v.length;
    }
  }
  chunks.push(runOf(runStart, runEnd));
  if (bytes !== total) throw new Error('LOG-9: commit size mismatch');
  if (chunks.length === 1) return chunks[0]!;
  return chunks.length <= MAX_CHUNKS ? chunks : gather(chunks);
};

/** The bytes of `first`'s buffer from `first` up to `end` (`first` itself when it is the whole run). */
const runOf = (first: Uint8Array, end: number): Uint8Array => {
  const len = end - first.byteOffset;
  return len === first.length ? first : new Uint8Array(first.buffer, first.byteOffset, len);
};
