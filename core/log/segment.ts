// One log segment: `<base>.log` (20-digit zero-padded base offset), preallocated to segment.bytes
// while active, trimmed to its logical size when rolled; plus its in-memory sparse indexes, which
// are written to `<base>.index` / `<base>.timeindex` when the segment is rolled.
// Invariants: SEG-1 `sizeBytes` is the logical end (every byte below it is whole batches in
// offset order, everything from it to the file end is zero while active — with segment recycling,
// the 12 bytes at it are zero and what follows may be stale batches, see SEG-4); SEG-2 offsets in the
// segment lie in [baseOffset, nextOffset) and nextOffset - baseOffset fits a u32 (relative offsets);
// SEG-3 `writtenBytes <= sizeBytes`: bytes in [writtenBytes, sizeBytes) are only in memory.
import { OffsetIndex } from './offset-index.ts';
import { NO_TIMESTAMP, TimeIndex, type TimestampAt } from './time-index.ts';
import { maxTimestampAt } from '../records/batch-header.ts';

export const segmentName = (baseOffset: number): string => String(baseOffset).padStart(20, '0');
export const SEGMENT_NAME_RE = /^(\d{20})\.log$/;

/** REC-LOG (partition-log.ts): at most this many recycled segment files are kept for reuse. */
export const RECYCLE_SLOTS = 2;
export const RECYCLE_NAME_RE = /^(\d{20})\.log\.recycle$/;

/** A recycled segment file (its name: recycleFile); every offset it holds is below `bound`. */
export interface RecycleSlot {
  readonly bound: number;
}

/** A recycle slot's file: `<dir>/<20-digit bound>.log.recycle` (the name carries the bound). */
export const recycleFile = (dir: string, bound: number): string => `${dir}/${segmentName(bound)}.log.recycle`;

/** SEG-2: the largest relative offset (offset - baseOffset) a segment holds. */
const MAX_RELATIVE_OFFSET = 0xfffffffe;

export class Segment {
  sizeBytes = 0;
  writtenBytes = 0;
  nextOffset: number;
  maxTimestamp = -1;
  offsetOfMaxTimestamp: number;
  /** Wall clock (ms) of the first append, for segment.ms; -1 while empty/unknown. */
  createdWallMs = -1;
  /**
   * CMP-6: the broker's wall clock at the first compaction pass over this segment (-1: none yet).
   * Tombstones go only on a pass delete.retention.ms after it (Kafka's delete horizon, KIP-534),
   * never on the first. In memory only: after a restart the horizon starts again, later (a
   * tombstone then lives longer, never shorter).
   */
  firstCleanedWallMs = -1;
  private bytesSinceIndex = 0;
  /** File names, built once (every commit names the log file in its write and sync). */
  readonly logFile: string;
  readonly indexFile: string;
  readonly timeIndexFile: string;
  /** SEG-2: every offset the segment can hold is below this (baseOffset + MAX_RELATIVE_OFFSET + 1). */
  readonly offsetLimit: number;
  /**
   * SEG-4: the file may hold stale bytes (old batches of a recycled file) past the logical end, so
   * at rest the log writes a 12-byte zero terminator right after its data (see partition-log.ts).
   */
  dirtyTail = false;
  /** SEG-4: the position of the last terminator written (0: a slot's zeroed first bytes). */
  terminatedAt = 0;

  constructor(
    readonly dir: string,
    readonly baseOffset: number,
    public offsetIndex: OffsetIndex = new OffsetIndex(baseOffset),
    public timeIndex: TimeIndex = new TimeIndex(baseOffset),
  ) {
    if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) throw new Error('SEG: bad base offset');
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
    this.offsetLimit = baseOffset + MAX_RELATIVE_OFFSET + 1;
    const stem = `${dir}/${segmentName(baseOffset)}`;
    this.logFile = `${stem}.log`;
    this.indexFile = `${stem}.index`;
    this.timeIndexFile = `${stem}.timeindex`;
  }

  /** True when a batch ending at `lastOffset` still fits the u32 relative-offset space (SEG-2). */
  canHoldOffset(lastOffset: number): boolean {
    return lastOffset < this.offsetLimit;
  }

  /**
   * Accounts for a batch placed at `position` (== sizeBytes for appends; scans pass the same):
   * advances the logical end and maintains the sparse indexes every `indexIntervalBytes`.
   */
  onBatch(buf: Uint8Array, off: number, size: number, baseOffset: number, lastOffset: number, indexIntervalBytes: number): void {
    if (baseOffset < this.nextOffset && this.sizeBytes > 0) throw new Error('SEG-2: offsets must increase');
    if (!this.canHoldOffset(lastOffset)) throw new Error('SEG-2: relative offset overflow');
    const position = this.sizeBytes;
    const ts = maxTimestampAt(buf, off);
    if (ts > this.maxTimestamp) {
      this.maxTimestamp = ts;
      this.offsetOfMaxTimestamp = baseOffset;
    }
    if (this.bytesSinceIndex >= indexIntervalBytes || (position === 0 && this.offsetIndex.length === 0)) {
      if (position > 0) this.offsetIndex.append(baseOffset, position);
      this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
      this.bytesSinceIndex = 0;
    }
    this.bytesSinceIndex += size;
    this.sizeBytes += size;
    this.nextOffset = lastOffset + 1;
  }

  /** Before a roll: make the time index's last entry carry the segment's max timestamp. */
  sealTimeIndex(): void {
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp);
  }

  /**
   * Forgets everything at and after `position` / `offset` (truncation); indexes follow. The max
   * timestamp becomes that of the kept batches: the time index's last kept entry covers those up
   * to the walk's start (its entries are taken where the offset index's are), `walked` the kept
   * batches the truncation walk visited after it.
   */
  truncateTo(position: number, offset: number, walked: TimestampAt): void {
    if (position > this.sizeBytes) throw new Error('SEG: truncate beyond end');
    this.sizeBytes = position;
    this.writtenBytes = Math.min(this.writtenBytes, position);
    this.nextOffset = Math.max(this.baseOffset, offset);
    this.offsetIndex.truncateFromOffset(offset);
    this.timeIndex.truncateFromOffset(offset);
    this.bytesSinceIndex = 0;
    const indexed = this.timeIndex.lastEntry();
    const max = position === 0 ? NO_TIMESTAMP : walked.timestamp > indexed.timestamp ? walked : indexed;
    this.maxTimestamp = max.timestamp;
    this.offsetOfMaxTimestamp = max.timestamp < 0 ? this.baseOffset : max.offset;
  }
}
