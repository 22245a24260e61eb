// The quorum's persistent storage, driven only through Disk effects: the replicated log in
// segment files `meta/log/<20-digit base offset>.log`, the quorum state `meta/quorum-state`, and
// snapshots `meta/snapshots/<20-digit endOffset>-<epoch>.snapshot`. It keeps an in-memory mirror
// of the log (entries from logStartOffset to logEndOffset) and tracks which prefix is durable.
//
// Invariants:
//  RAFT-6a durableEndOffset only advances on the DiskDone of a sync that covers the writes, and
//          never above logEndOffset; a truncation lowers it at once and caps every sync still in
//          flight, so a sync issued before a truncation never vouches for entries written after.
//  RAFT-7  quorum state and snapshots are replaced atomically: write temp, sync temp, rename,
//          syncDir; the caller is told `quorumDurable` / `snapshotDurable` only after the syncDir.
//  RAFT-8  recovery accepts a prefix of valid frames: contiguous offsets, non-decreasing epochs,
//          each frame's CRC-32C correct. Each frame records the durable end when it was written
//          (codec.ts). A crash damages only what was written since the last completed sync, in
//          any combination (io.ts, DISK-1: a later unsynced frame may survive an earlier one), so
//          a bad frame is rot only if a valid frame after it vouches for its offset as durable:
//          recovery resyncs past it (tries every later byte position for a frame with a
//          plausible header - offset at or above the expected one and reachable in the bytes
//          skipped, epoch not below the last good one - and a correct CRC; bounded CRC work) and
//          reads the durable ends of what it finds there and in later segments.
//  RAFT-9  rot below acknowledged data (or an unreadable/missing quorum state while a log exists)
//          marks the store damaged: `repairTargetOffset` = one past the highest valid offset seen
//          on disk (resynced frames included), persisted in the quorum state; the replica must not
//          vote or campaign until it has refetched from a leader up to that offset (replica.ts).
//          A lost or corrupt quorum state is recorded as votedFor = VOTE_FLOOR_PENDING (RAFT-13).
// Residual risk: rot with no later append's frame behind it (damage in the last append, or to
// every frame from the first damaged one on) looks exactly like a crash: it is truncated as a
// tail without marking damage. If those entries were acknowledged, the quorum tolerates a
// minority of such replicas; more (rot on the same tail entries of a majority before they are
// re-replicated) is not detected here.
// Faults survived: crash with unsynced writes lost or torn, resurrected files after an unsynced
// remove/rename (recovery drops segments that do not continue the log), bit-rot (checksums),
// EIO on read during recovery (treated as rot). EIO/ENOSPC on a write, sync or rename is
// fail-stop: `failed` is set and the replica stops acknowledging anything.
import type { DiskOp, DiskResult, Effect } from '../io.ts';
import { disk } from '../io.ts';
import type { RaftRecord, SnapshotId } from './messages.ts';
import type { QuorumStateRecord } from './codec.ts';
import {
  FRAME_HEADER_BYTES,
  decodeFrame,
  decodeQuorumState,
  decodeSnapshot,
  encodeFrame,
  encodeQuorumState,
  encodeSnapshot,
  pad20,
  peekFrameHeader,
  VOTE_FLOOR_PENDING,
} from './codec.ts';

interface Segment {
  readonly base: number;
  sizeBytes: number;
}

type Pending =
  | { readonly what: 'plain' }
  | { readonly what: 'logSync'; coversEnd: number }
  | { readonly what: 'quorumDone'; readonly seq: number }
  | { readonly what: 'snapshotDone'; readonly id: SnapshotId; readonly file: string }
  | { readonly what: 'recList'; readonly dir: 'meta' | 'snap' | 'log' }
  | { readonly what: 'recRead'; readonly file: string }
  | { readonly what: 'recFinal' };

export type StoreEvent =
  | { readonly kind: 'logDurable' }
  | { readonly kind: 'quorumDurable'; readonly seq: number }
  | { readonly kind: 'snapshotDurable'; readonly id: SnapshotId }
  | {
      readonly kind: 'recovered';
      readonly quorum: QuorumStateRecord | undefined;
      readonly snapshot: { id: SnapshotId; data: Uint8Array } | undefined;
    }
  | { readonly kind: 'failed'; readonly reason: string };

export interface RecoveryReport {
  readonly tornTailTruncated: boolean;
  readonly rotDetected: boolean;
  readonly droppedSegments: number;
}

const MAX_ENTRIES_PER_APPEND = 100_000;
const SEGMENT_FILE = /^\d{20}\.log$/;

export class LogStore {
  readonly logDir: string;
  readonly snapDir: string;
  readonly metaDir: string;
  readonly quorumFile: string;
  private readonly pending = new Map<number, Pending>();
  /** The log from logStartOffset, stored as the records that travel in FetchResponses. */
  private entries: RaftRecord[] = [];
  /** Byte position of each entry's frame in its segment (parallel to `entries`). */
  private positions: number[] = [];
  private segments: Segment[] = [];
  logStartOffset = 0;
  durableEndOffset = 0;
  /** The snapshot the log starts after (endOffset == logStartOffset), if any. */
  snapshot: { id: SnapshotId; data: Uint8Array } | undefined = undefined;
  repairTargetOffset = 0;
  failed: string | undefined = undefined;
  /** Syncs whose completion will move durableEndOffset; 0 means logEnd == durableEnd. */
  logSyncsInFlight = 0;
  recovery: RecoveryReport | undefined = undefined;
  private quorumSeq = 0;
  // recovery scratch
  private recLists = new Map<string, readonly { name: string; size: number; dir: boolean }[]>();
  private recReads = new Map<string, Uint8Array | undefined>();
  private recReadsLeft = 0;
  private recRetried = new Set<string>();
  private recSizes = new Map<string, number>();

  constructor(
    dir: string,
    private readonly ids: { next(): number },
    private readonly segmentMaxBytes: number,
  ) {
    this.metaDir = dir;
    this.logDir = `${dir}/log`;
    this.snapDir = `${dir}/snapshots`;
    this.quorumFile = `${dir}/quorum-state`;
  }

  owns(id: number): boolean {
    return this.pending.has(id);
  }

  get logEndOffset(): number {
    return this.logStartOffset + this.entries.length;
  }

  entryAt(offset: number): RaftRecord | undefined {
    if (offset < this.logStartOffset || offset >= this.logEndOffset) return undefined;
    return this.entries[offset - this.logStartOffset];
  }

  /** The stored records [from, end) (within the log), shared, not copied: one array per call. */
  recordsBetween(from: number, end: number): RaftRecord[] {
    return this.entries.slice(from - this.logStartOffset, end - this.logStartOffset);
  }

  /** Epoch of the last entry, else of the snapshot, else 0. */
  lastEpoch(): number {
    const last = this.entries[this.entries.length - 1];
    return last ? last.epoch : (this.snapshot?.id.epoch ?? 0);
  }

  /** Epoch of the entry just below `offset` (offset == logStartOffset: the snapshot's). */
  epochBefore(offset: number): number | undefined {
    if (offset === this.logStartOffset) return this.snapshot?.id.epoch ?? 0;
    return this.entryAt(offset - 1)?.epoch;
  }

  /**
   * Kafka's endOffsetForEpoch: the largest epoch <= `epoch` present in the log (or snapshot) and
   * the end offset of that epoch. Undefined if `epoch` is older than anything we still hold.
   */
  endOffsetForEpoch(epoch: number): { epoch: number; endOffset: number } | undefined {
    let end = this.logEndOffset;
    // Bounded: one step per entry; the log in memory is bounded by snapshotting.
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e.epoch <= epoch) return { epoch: e.epoch, endOffset: end };
      end = e.offset;
    }
    const base = this.snapshot?.id ?? { epoch: 0, endOffset: 0 };
    if (base.epoch <= epoch && end === base.endOffset) return { epoch: base.epoch, endOffset: base.endOffset };
    return undefined;
  }

  private issue(op: DiskOp, p: Pending): Effect<never, never> {
    const id = this.ids.next();
    if (this.pending.has(id)) throw new Error(`LogStore: disk id ${id} reused`);
    this.pending.set(id, p);
    if (p.what === 'logSync') this.logSyncsInFlight++;
    return disk(id, op);
  }

  private segFile(base: number): string {
    return `${this.logDir}/${pad20(base)}.log`;
  }

  // -------------------------------------------------------------------------------------------
  // Appends, truncation, prefix deletion

  /** Appends records that must continue the log exactly; writes them, then syncs. */
  append(records: readonly RaftRecord[]): Effect<never, never>[] {
    if (records.length > MAX_ENTRIES_PER_APPEND) throw new Error('append: too many records');
    if (this.failed) return [];
    const effects: Effect<never, never>[] = [];
    const touched: number[] = [];
    let created = false;
    for (const r of records) {
      if (r.offset !== this.logEndOffset) throw new Error(`append: offset ${r.offset} != end ${this.logEndOffset}`);
      if (r.epoch < this.lastEpoch()) throw new Error(`append: epoch ${r.epoch} < last ${this.lastEpoch()}`);
      let seg = this.segments[this.segments.length - 1];
      if (!seg || seg.sizeBytes >= this.segmentMaxBytes) {
        seg = { base: r.offset, sizeBytes: 0 };
        this.segments.push(seg);
        created = true;
      }
      // RAFT-8: the frame vouches that everything below the durable end was durable before it.
      const frame = encodeFrame(r.offset, r.epoch, r.control, r.payload, this.durableEndOffset);
      // The stored payload is a view into the frame we wrote: one copy, made here, at the edge.
      this.entries.push({ offset: r.offset, epoch: r.epoch, control: r.control, payload: frame.subarray(frame.length - r.payload.length) });
      this.positions.push(seg.sizeBytes);
      effects.push(this.issue({ kind: 'write', file: this.segFile(seg.base), offset: seg.sizeBytes, data: frame }, { what: 'plain' }));
      seg.sizeBytes += frame.length;
      if (!touched.includes(seg.base)) touched.push(seg.base);
    }
    // Completions arrive in order, so the last sync (or the syncDir making a new segment's name
    // durable) is the one whose DiskDone proves the whole batch durable.
    touched.forEach((base, i) => {
      const last = i === touched.length - 1 && !created;
      effects.push(this.issue({ kind: 'sync', file: this.segFile(base) }, last ? { what: 'logSync', coversEnd: this.logEndOffset } : { what: 'plain' }));
    });
    if (created) effects.push(this.dirSyncCoveringEnd());
    return effects;
  }

  private dirSyncCoveringEnd(): Effect<never, never> {
    return this.issue({ kind: 'syncDir', dir: this.logDir }, { what: 'logSync', coversEnd: this.logEndOffset });
  }

  /** Removes every entry at or above `offset` (a divergent suffix), then syncs. */
  truncateTo(offset: number): Effect<never, never>[] {
    if (offset < this.logStartOffset) throw new Error(`truncateTo ${offset} below logStart ${this.logStartOffset}`);
    if (offset >= this.logEndOffset || this.failed) return [];
    const effects: Effect<never, never>[] = [];
    const kept = offset - this.logStartOffset;
    const position = this.positions[kept];
    this.entries.length = kept;
    this.positions.length = kept;
    // The entry at `offset` lives in the last segment starting at or below it.
    while (this.segments.length > 0 && this.segments[this.segments.length - 1].base > offset) {
      const gone = this.segments.pop()!;
      effects.push(this.issue({ kind: 'remove', file: this.segFile(gone.base) }, { what: 'plain' }));
    }
    const seg = this.segments[this.segments.length - 1];
    if (seg === undefined || position > seg.sizeBytes) throw new Error('truncateTo: segment bookkeeping broken');
    seg.sizeBytes = position;
    this.capDurable(offset);
    const file = this.segFile(seg.base);
    effects.push(this.issue({ kind: 'truncate', file, size: seg.sizeBytes }, { what: 'plain' }));
    effects.push(this.issue({ kind: 'sync', file }, { what: 'plain' }));
    effects.push(this.issue({ kind: 'syncDir', dir: this.logDir }, { what: 'logSync', coversEnd: offset }));
    return effects;
  }

  private capDurable(offset: number): void {
    this.durableEndOffset = Math.min(this.durableEndOffset, offset);
    for (const p of this.pending.values()) if (p.what === 'logSync') p.coversEnd = Math.min(p.coversEnd, offset);
  }

  /** After a durable snapshot at `snap`: drops the in-memory prefix and whole segments below it. */
  deletePrefix(snap: SnapshotId): Effect<never, never>[] {
    if (snap.endOffset > this.logEndOffset) throw new Error('deletePrefix beyond log end');
    if (snap.endOffset <= this.logStartOffset) return [];
    this.entries.splice(0, snap.endOffset - this.logStartOffset);
    this.positions.splice(0, snap.endOffset - this.logStartOffset);
    this.logStartOffset = snap.endOffset;
    const effects: Effect<never, never>[] = [];
    // A segment may go once the next one starts at or below the new log start.
    while (this.segments.length > 1 && this.segments[1].base <= snap.endOffset) {
      const gone = this.segments.shift()!;
      effects.push(this.issue({ kind: 'remove', file: this.segFile(gone.base) }, { what: 'plain' }));
    }
    if (effects.length > 0) effects.push(this.issue({ kind: 'syncDir', dir: this.logDir }, { what: 'plain' }));
    return effects;
  }

  /** Snapshot install on a follower: the whole log is replaced by an empty one after `snap`. */
  resetToSnapshot(snap: SnapshotId): Effect<never, never>[] {
    const effects: Effect<never, never>[] = [];
    for (const seg of this.segments) effects.push(this.issue({ kind: 'remove', file: this.segFile(seg.base) }, { what: 'plain' }));
    this.segments = [];
    this.entries = [];
    this.positions = [];
    this.capDurable(snap.endOffset);
    this.logStartOffset = snap.endOffset;
    this.durableEndOffset = snap.endOffset;
    effects.push(this.issue({ kind: 'syncDir', dir: this.logDir }, { what: 'plain' }));
    return effects;
  }

  // -------------------------------------------------------------------------------------------
  // Quorum state and snapshots (atomic replace, RAFT-7)

  private atomicReplace(file: string, dir: string, data: Uint8Array, done: Pending): Effect<never, never>[] {
    const tmp = `${file}.tmp`;
    return [
      this.issue({ kind: 'write', file: tmp, offset: 0, data }, { what: 'plain' }),
      this.issue({ kind: 'truncate', file: tmp, size: data.length }, { what: 'plain' }),
      this.issue({ kind: 'sync', file: tmp }, { what: 'plain' }),
      this.issue({ kind: 'rename', from: tmp, to: file }, { what: 'plain' }),
      this.issue({ kind: 'syncDir', dir }, done),
    ];
  }

  /** Persists the quorum state; returns the sequence number `quorumDurable` will report. */
  writeQuorumState(q: QuorumStateRecord): { seq: number; effects: Effect<never, never>[] } {
    const seq = ++this.quorumSeq;
    return { seq, effects: this.failed ? [] : this.atomicReplace(this.quorumFile, this.metaDir, encodeQuorumState(q), { what: 'quorumDone', seq }) };
  }

  snapshotFile(id: SnapshotId): string {
    return `${this.snapDir}/${pad20(id.endOffset)}-${id.epoch}.snapshot`;
  }

  writeSnapshot(id: SnapshotId, data: Uint8Array): Effect<never, never>[] {
    if (this.failed) return [];
    const file = this.snapshotFile(id);
    return this.atomicReplace(file, this.snapDir, encodeSnapshot(id.endOffset, id.epoch, data), { what: 'snapshotDone', id, file });
  }

  /** Makes `id` the current snapshot (its file is durable) and removes older snapshot files. */
  adoptSnapshot(id: SnapshotId, data: Uint8Array, older: readonly SnapshotId[]): Effect<never, never>[] {
    this.snapshot = { id, data };
    const effects = older.map((o) => this.issue({ kind: 'remove', file: this.snapshotFile(o) }, { what: 'plain' }));
    if (effects.length > 0) effects.push(this.issue({ kind: 'syncDir', dir: this.snapDir }, { what: 'plain' }));
    return effects;
  }

  // -------------------------------------------------------------------------------------------
  // Completions

  onDone(id: number, result: DiskResult): StoreEvent[] {
    const p = this.pending.get(id);
    if (!p) throw new Error(`LogStore: completion for unknown disk id ${id}`);
    this.pending.delete(id);
    switch (p.what) {
      case 'plain':
        return [];
      case 'logSync': {
        this.logSyncsInFlight--;
        const end = Math.min(p.coversEnd, this.logEndOffset);
        if (end > this.durableEndOffset) this.durableEndOffset = end;
        // Reported even without progress: a follower waits for quiescence to fetch again.
        return [{ kind: 'logDurable' }];
      }
      case 'quorumDone':
        return [{ kind: 'quorumDurable', seq: p.seq }];
      case 'snapshotDone':
        return [{ kind: 'snapshotDurable', id: p.id }];
      case 'recList':
        return this.onRecoveryList(p.dir, result.entries ?? []);
      case 'recRead':
        return this.onRecoveryRead(p.file, result.data);
      case 'recFinal':
        return this.finishRecovery();
    }
  }

  onFailed(id: number, op: string, error: string): StoreEvent[] {
    // A directory never written to does not exist yet, and removing what is gone is done.
    if (error === 'ENOENT' && (op === 'syncDir' || op === 'remove')) return this.onDone(id, {});
    const p = this.pending.get(id);
    if (!p) throw new Error(`LogStore: failure for unknown disk id ${id}`);
    this.pending.delete(id);
    if (p.what === 'logSync') this.logSyncsInFlight--;
    if (p.what === 'recRead') return this.onRecoveryRead(p.file, undefined);
    if (p.what === 'recList') return this.onRecoveryList(p.dir, []);
    // Fail-stop: we can no longer promise what is durable (fsyncgate), so we stop promising.
    this.failed = `${error} on disk op ${id} (${p.what})`;
    return [{ kind: 'failed', reason: this.failed }];
  }

  // -------------------------------------------------------------------------------------------
  // Recovery: list, read everything, validate, repair, sync

  startRecovery(): Effect<never, never>[] {
    this.recLists.clear();
    this.recReads.clear();
    this.recRetried.clear();
    this.recSizes.clear();
    return [
      this.issue({ kind: 'list', dir: this.metaDir }, { what: 'recList', dir: 'meta' }),
      this.issue({ kind: 'list', dir: this.snapDir }, { what: 'recList', dir: 'snap' }),
      this.issue({ kind: 'list', dir: this.logDir }, { what: 'recList', dir: 'log' }),
    ];
  }

  private recEffects: Effect<never, never>[] = [];

  /** Effects produced while handling recovery completions (drained by the replica). */
  drainEffects(): Effect<never, never>[] {
    const e = this.recEffects;
    this.recEffects = [];
    return e;
  }

  private onRecoveryList(dir: string, entries: readonly { name: string; size: number; dir: boolean }[]): StoreEvent[] {
    this.recLists.set(dir, entries.filter((e) => !e.dir));
    if (this.recLists.size < 3) return [];
    const reads: [string, number][] = [];
    const meta = this.recLists.get('meta')!;
    const qs = meta.find((e) => e.name === 'quorum-state');
    if (qs) reads.push([this.quorumFile, qs.size]);
    for (const e of this.recLists.get('snap')!) if (e.name.endsWith('.snapshot')) reads.push([`${this.snapDir}/${e.name}`, e.size]);
    for (const e of this.recLists.get('log')!) if (SEGMENT_FILE.test(e.name)) reads.push([`${this.logDir}/${e.name}`, e.size]);
    this.recReadsLeft = reads.length;
    for (const [file, size] of reads) {
      this.recSizes.set(file, size);
      this.recEffects.push(this.issue({ kind: 'read', file, offset: 0, length: size }, { what: 'recRead', file }));
    }
    return reads.length === 0 ? this.applyRecovery() : [];
  }

  private onRecoveryRead(file: string, data: Uint8Array | undefined): StoreEvent[] {
    const quality = this.readQuality(file, data);
    if (!this.recRetried.has(file) && quality.bad) {
      // A read may fail or return rotten bytes transiently (io.ts): read once more before
      // concluding that the data at rest is damaged.
      this.recRetried.add(file);
      this.recReads.set(file, data);
      this.recEffects.push(this.issue({ kind: 'read', file, offset: 0, length: this.recSizes.get(file) ?? 0 }, { what: 'recRead', file }));
      return [];
    }
    const prev = this.recRetried.has(file) ? this.readQuality(file, this.recReads.get(file)) : undefined;
    if (prev === undefined || prev.score < quality.score) this.recReads.set(file, data);
    this.recReadsLeft--;
    return this.recReadsLeft === 0 ? this.applyRecovery() : [];
  }

  /** How good one read of a file is: `bad` if it fails its checksums; more valid data scores higher. */
  private readQuality(file: string, data: Uint8Array | undefined): { bad: boolean; score: number } {
    if (data === undefined) return { bad: true, score: -1 };
    if (file === this.quorumFile) return decodeQuorumState(data) ? { bad: false, score: 1 } : { bad: true, score: 0 };
    if (file.startsWith(`${this.snapDir}/`)) return decodeSnapshot(data) ? { bad: false, score: 1 } : { bad: true, score: 0 };
    // Only `bad` and the frame count matter here, and the resync changes neither: skip it.
    const scan = scanFrames(data, 0, false);
    return { bad: scan.bad, score: scan.frames.length };
  }

  private recovered: { quorum: QuorumStateRecord | undefined } = { quorum: undefined };

  private applyRecovery(): StoreEvent[] {
    const qsBytes = this.recReads.get(this.quorumFile);
    let quorum = qsBytes ? decodeQuorumState(qsBytes) : undefined;
    const durableTarget = quorum?.repairTargetOffset ?? 0; // the damage mark already on disk
    const quorumBroken = this.recReads.has(this.quorumFile) && quorum === undefined;
    this.loadLatestSnapshot();
    const marked = this.recEffects.length;
    const report = this.loadSegments();
    const anyData = this.segments.length > 0 || this.snapshot !== undefined;
    // RAFT-9: rot below acknowledged data, or a lost quorum state, means we may have promised
    // entries (or a vote) we no longer hold.
    let target = report.rotTarget;
    if ((quorumBroken || (quorum === undefined && anyData)) && target === 0) target = Math.max(1, report.maxSeenEnd);
    this.repairTargetOffset = Math.max(quorum?.repairTargetOffset ?? 0, target);
    // RAFT-13: a lost quorum state may have held a vote; the replica must learn a floor first.
    if (quorum === undefined && (anyData || quorumBroken)) {
      quorum = { epoch: this.lastEpoch(), votedFor: VOTE_FLOOR_PENDING, leaderId: undefined, repairTargetOffset: this.repairTargetOffset };
    }
    this.recovered = { quorum: quorum && { ...quorum, repairTargetOffset: this.repairTargetOffset } };
    this.recovery = { tornTailTruncated: report.torn, rotDetected: report.rotTarget > 0 || quorumBroken, droppedSegments: report.dropped };
    // RAFT-9: a damage mark found now is made durable before the truncations and removals above
    // destroy its evidence; else a crash in between recovers a clean, short log, no mark, and a
    // replica that votes without the entries it acknowledged (found in review).
    const mark = this.recovered.quorum;
    if (mark !== undefined && mark.repairTargetOffset > durableTarget) {
      const destructive = this.recEffects.splice(marked);
      this.recEffects.push(...this.atomicReplace(this.quorumFile, this.metaDir, encodeQuorumState(mark), { what: 'plain' }), ...destructive);
    }
    // Make what we read durable before anyone relies on it: a process crash leaves unsynced data
    // readable in the page cache that a power loss would still take away.
    for (const seg of this.segments) this.recEffects.push(this.issue({ kind: 'sync', file: this.segFile(seg.base) }, { what: 'plain' }));
    this.recEffects.push(this.issue({ kind: 'syncDir', dir: this.logDir }, { what: 'plain' }));
    this.recEffects.push(this.issue({ kind: 'syncDir', dir: this.snapDir }, { what: 'recFinal' }));
    return [];
  }

  private finishRecovery(): StoreEvent[] {
    this.durableEndOffset = this.logEndOffset;
    this.recReads.clear();
    this.recLists.clear();
    return [{ kind: 'recovered', quorum: this.recovered.quorum, snapshot: this.snapshot }];
  }

  private loadLatestSnapshot(): void {
    const names = this.recLists.get('snap')!.map((e) => e.name).filter((n) => n.endsWith('.snapshot')).sort().reverse();
    this.snapshot = undefined;
    for (const name of names) {
      const file = `${this.snapDir}/${name}`;
      const bytes = this.recReads.get(file);
      const snap = bytes && decodeSnapshot(bytes);
      if (snap && this.snapshot === undefined && this.snapshotFile(snap) === file) {
        this.snapshot = { id: { endOffset: snap.endOffset, epoch: snap.epoch }, data: snap.data };
      } else {
        this.recEffects.push(this.issue({ kind: 'remove', file }, { what: 'plain' }));
      }
    }
    for (const e of this.recLists.get('snap')!) {
      if (e.name.endsWith('.tmp')) this.recEffects.push(this.issue({ kind: 'remove', file: `${this.snapDir}/${e.name}` }, { what: 'plain' }));
    }
  }

  /** Rebuilds entries and segments from the segment files read (RAFT-8). */
  private loadSegments(): { torn: boolean; rotTarget: number; maxSeenEnd: number; dropped: number } {
    const files = this.recLists.get('log')!.map((e) => e.name).filter((n) => SEGMENT_FILE.test(n)).sort();
    const snapEnd = this.snapshot?.id.endOffset ?? 0;
    this.logStartOffset = snapEnd;
    this.entries = [];
    this.positions = [];
    this.segments = [];
    let cutAt = -1; // offset where a checksum failure stopped the valid log, if one did
    let staleCut = false;
    let maxSeenEnd = 0;
    /** RAFT-8: the highest durable end vouched for by a valid frame past the cut. */
    let vouchedPastCut = 0;
    let dropped = 0;
    let lastEpoch = this.snapshot?.id.epoch ?? 0;
    // The first segment to keep is the last one starting at or below the snapshot's end.
    let first = -1;
    for (let i = 0; i < files.length; i++) if (Number(files[i].slice(0, 20)) <= snapEnd) first = i;
    for (let i = 0; i < files.length; i++) {
      const base = Number(files[i].slice(0, 20));
      const file = `${this.logDir}/${files[i]}`;
      const bytes = this.recReads.get(file);
      const scan = scanFrames(bytes, base);
      maxSeenEnd = Math.max(maxSeenEnd, scan.maxSeenEnd);
      if (cutAt >= 0) vouchedPastCut = Math.max(vouchedPastCut, scan.maxVouched);
      const continues = cutAt < 0 && !staleCut && i >= first && first >= 0 && (i === first || base === this.logEndOffset);
      if (!continues) {
        // Obsolete (below the snapshot), resurrected by an unsynced remove, or past a cut.
        this.recEffects.push(this.issue({ kind: 'remove', file }, { what: 'plain' }));
        dropped++;
        continue;
      }
      let keptBytes = 0;
      const cut = scan.bad;
      let stale = false;
      for (const f of scan.frames) {
        if (f.offset < this.logEndOffset && this.entries.length === 0) {
          keptBytes = f.end; // below the snapshot: keep the bytes, skip the entry
          continue;
        }
        if (f.offset !== this.logEndOffset || f.epoch < lastEpoch) {
          // Valid frames that do not continue the log: a suffix a durable snapshot install
          // replaced (its removal was not yet durable). Stale, not rot.
          stale = true;
          break;
        }
        this.entries.push({ offset: f.offset, epoch: f.epoch, control: f.control, payload: f.payload });
        this.positions.push(keptBytes);
        lastEpoch = f.epoch;
        keptBytes = f.end;
      }
      this.segments.push({ base, sizeBytes: keptBytes });
      if (stale) {
        staleCut = true;
        this.recEffects.push(this.issue({ kind: 'truncate', file, size: keptBytes }, { what: 'plain' }));
      } else if (cut || bytes === undefined) {
        cutAt = this.logEndOffset;
        // RAFT-8: a valid frame after the bad one in this same segment that vouches for it.
        vouchedPastCut = Math.max(vouchedPastCut, scan.vouchedAfterBad);
        this.recEffects.push(this.issue({ kind: 'truncate', file, size: keptBytes }, { what: 'plain' }));
      } else if (keptBytes < bytes.length) {
        this.recEffects.push(this.issue({ kind: 'truncate', file, size: keptBytes }, { what: 'plain' }));
      }
    }
    // A crash damages only data written since the last completed sync (in any combination:
    // io.ts). A valid frame past the cut that vouches for the cut's offset as durable when it was
    // written means the cut is rot in synced data (RAFT-9); so is a missing start of the log.
    const gapAtStart = first < 0 && files.length > 0;
    const rot = (cutAt >= 0 && vouchedPastCut > cutAt) || gapAtStart;
    return { torn: cutAt >= 0 && !rot, rotTarget: rot ? Math.max(maxSeenEnd, 1) : 0, maxSeenEnd, dropped };
  }
}

interface ScannedFrame {
  offset: number;
  epoch: number;
  control: boolean;
  payload: Uint8Array;
  end: number;
}

interface Scan {
  frames: ScannedFrame[];
  bad: boolean;
  /** The highest durable end vouched for by a valid frame found past the bad one (RAFT-8). */
  vouchedAfterBad: number;
  /** The highest durable end vouched for by any valid frame seen (scanned or resynced). */
  maxVouched: number;
  maxSeenEnd: number;
}

/** Upper bound on bytes checksummed by one resync scan, per byte of file (bounded work). */
const RESYNC_CRC_BUDGET_PER_BYTE = 4;

/**
 * Reads consecutive valid frames from the start; `bad` if a frame failed before the end. After a
 * bad frame it resyncs (RAFT-8): every later byte position is tried for a frame whose header is
 * plausible and whose CRC holds; `vouchedAfterBad` is the highest durable end such frames vouch
 * for (a frame written after the bad one was synced proves the damage is rot), and `maxSeenEnd`
 * covers them. With `resync` false it stops at the bad frame: `frames` and `bad` are the same
 * either way, but nothing past the bad frame is seen.
 */
const scanFrames = (bytes: Uint8Array | undefined, base: number, resync = true): Scan => {
  const frames: ScannedFrame[] = [];
  if (bytes === undefined) return { frames, bad: true, vouchedAfterBad: 0, maxVouched: 0, maxSeenEnd: base };
  let at = 0;
  let maxSeenEnd = 0;
  let maxVouched = 0;
  // Bounded by the file size: every iteration consumes at least a frame header.
  while (at < bytes.length) {
    const f = decodeFrame(bytes, at);
    if (!f) {
      // Trailing zeroes (preallocation) are not corruption.
      const rest = bytes.subarray(at);
      if (!rest.some((b) => b !== 0)) return { frames, bad: false, vouchedAfterBad: 0, maxVouched, maxSeenEnd };
      if (!resync) return { frames, bad: true, vouchedAfterBad: 0, maxVouched, maxSeenEnd };
      const last = frames[frames.length - 1];
      const after = resyncScan(bytes, at, last ? last.offset + 1 : base, last ? last.epoch : 0);
      return { frames, bad: true, vouchedAfterBad: after.vouched, maxVouched: Math.max(maxVouched, after.vouched), maxSeenEnd: Math.max(maxSeenEnd, after.maxEnd) };
    }
    frames.push({ offset: f.offset, epoch: f.epoch, control: f.control, payload: f.payload, end: at + f.sizeBytes });
    maxSeenEnd = Math.max(maxSeenEnd, f.offset + 1);
    maxVouched = Math.max(maxVouched, f.durableBelow);
    at += f.sizeBytes;
  }
  return { frames, bad: false, vouchedAfterBad: 0, maxVouched, maxSeenEnd };
};

/**
 * Searches past the bad frame at `badAt` (which should have held `expectedOffset`) for valid
 * frames: offset >= expectedOffset and no more frames than the bytes skipped could hold, epoch >=
 * `minEpoch`, CRC correct. Returns one past the highest such offset (0 if none) and the highest
 * durable end they vouch for. The header filter makes CRC work rare on garbage; the total CRC
 * work is capped, and an exhausted budget counts as rot (the cautious answer: it only costs
 * availability, RAFT-9).
 */
const resyncScan = (bytes: Uint8Array, badAt: number, expectedOffset: number, minEpoch: number): { maxEnd: number; vouched: number } => {
  let budget = RESYNC_CRC_BUDGET_PER_BYTE * bytes.length;
  let maxEnd = 0;
  let vouched = 0;
  let nextExpected = expectedOffset;
  let floorEpoch = minEpoch;
  let anchor = badAt;
  // Bounded: p strictly increases up to the file size.
  for (let p = badAt + 1; p + FRAME_HEADER_BYTES <= bytes.length; p++) {
    const h = peekFrameHeader(bytes, p)!; // the loop bound leaves a whole header at p
    // Zeroes (space a lost unsynced write never filled) never hold a frame (its CRC would not be
    // 0): not worth the budget, which zeroes exhausted as 'rot' after a power loss during the
    // very first append (found in review).
    if (h.crc === 0 && h.payloadLength === 0 && h.offset === 0 && h.epoch === 0) continue;
    const len = h.payloadLength;
    if (len > bytes.length - p - FRAME_HEADER_BYTES) continue;
    const maxFramesSkipped = Math.floor((p - anchor) / FRAME_HEADER_BYTES) + 1;
    if (h.offset < nextExpected || h.offset > nextExpected + maxFramesSkipped || h.epoch < floorEpoch) continue;
    if (!h.flagsValid) continue;
    budget -= FRAME_HEADER_BYTES + len;
    if (budget < 0) return { maxEnd: Math.max(maxEnd, expectedOffset + 1), vouched: expectedOffset + 1 };
    const f = decodeFrame(bytes, p);
    if (!f) continue;
    maxEnd = f.offset + 1;
    vouched = Math.max(vouched, f.durableBelow);
    nextExpected = f.offset + 1;
    floorEpoch = f.epoch;
    p += f.sizeBytes - 1;
    anchor = p + 1;
  }
  return { maxEnd, vouched };
};
