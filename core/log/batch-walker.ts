// Reads a segment's batches from disk in bounded chunks and hands each valid batch to a visitor
// (reads, offset-for-timestamp, truncation, recovery's scan). Every batch served from disk has its
// CRC checked first (WALK-1): bit-rot at rest is reported as corruption, never served.
// A batch that straddles a chunk boundary is re-read whole from its own position; the walk is
// bounded by the segment's written size and by a step budget.
import type { DiskError } from '../io.ts';
import type { DiskQueue } from './disk-queue.ts';
import { scanBatches } from './batch-scan.ts';
import { sameBytes } from '../bytes.ts';
import type { LogConfig } from './config.ts';
import type { Segment } from './segment.ts';

export type WalkVisit = 'continue' | 'stop';

export type WalkEnd =
  | { readonly kind: 'done'; readonly position: number } // visitor stopped, or end of data reached
  | { readonly kind: 'corrupt'; readonly position: number }
  | { readonly kind: 'ioError'; readonly error: DiskError };

export interface WalkSpec {
  readonly file: string;
  readonly startPosition: number;
  /** Walk only below this file position (the segment's written size). */
  readonly limitBytes: number;
  /** The first batch must have baseOffset >= this (offsets increase from there). */
  readonly minOffset: number;
  /**
   * Dense offsets (a log never compacted): the first batch starts exactly at `minOffset` and each
   * next one where the previous ended — catches flipped baseOffset bits, which the CRC does not cover.
   */
  readonly strictOffsets?: boolean;
  /** Every batch must end below this (the segment's next offset): catches flipped high bits of a
   *  baseOffset, which the CRC does not cover, in compacted logs too. */
  readonly endOffset?: number;
  readonly maxBatchBytes: number;
  /** Bytes per read (a batch larger than this is read whole). */
  readonly chunkBytes: number;
  /**
   * WALK-2: read every chunk twice and use it only once two reads agree. For walks whose result
   * becomes state (recovery's scan, truncation's cut): a partitionLeaderEpoch bit flipped in
   * flight passes the CRC and every offset check (recovery would take it into the epoch cache),
   * and in a log with gaps (compacted) so does a flipped baseOffset bit.
   */
  readonly confirmReads?: boolean;
}

export interface SegmentWalkOptions {
  /** [offset, position] to start from (an offset index entry); default the segment's start. */
  readonly start?: readonly [offset: number, position: number];
  /** Default: the segment's written size. */
  readonly limitBytes?: number;
  /** Default: the segment's next offset. */
  readonly endOffset?: number;
  /** The walk's result becomes state (recovery's scan, truncation's cut): WALK-2's confirmed
   *  reads. */
  readonly confirm?: boolean;
  readonly chunkBytes?: number;
}

/**
 * The walk of `seg`'s file: dense offsets checked when the log is never compacted (delete
 * policy), batch ends bounded by `endOffset` (WALK-1), batches no larger than a segment.
 */
export const segmentWalkSpec = (seg: Segment, config: Pick<LogConfig, 'cleanupPolicy' | 'segmentBytes' | 'readChunkBytes'>, opts: SegmentWalkOptions = {}): WalkSpec => {
  const dense = config.cleanupPolicy === 'delete';
  const [minOffset, startPosition] = opts.start ?? [seg.baseOffset, 0];
  return {
    file: seg.logFile,
    startPosition,
    limitBytes: opts.limitBytes ?? seg.writtenBytes,
    minOffset,
    strictOffsets: dense,
    // WALK-2: nothing catches a flipped epoch (any policy) or, with gaps allowed, base offset.
    // Until the seventh session delete-policy logs read once: a flipped epoch entered the cache.
    confirmReads: opts.confirm === true,
    endOffset: opts.endOffset ?? seg.nextOffset,
    maxBatchBytes: config.segmentBytes,
    chunkBytes: opts.chunkBytes ?? config.readChunkBytes,
  };
};

/** WALK-2: disagreeing read pairs tolerated in one walk before it ends as an EIO. */
const MAX_MISMATCHES = 8;

export const walkBatches = (
  q: DiskQueue,
  spec: WalkSpec,
  visit: (buf: Uint8Array, off: number, size: number, baseOffset: number, lastOffset: number, position: number) => WalkVisit,
  done: (end: WalkEnd) => void,
): void => {
  const chunk = spec.chunkBytes;
  let position = spec.startPosition;
  let nextOffset = spec.minOffset;
  let steps = 0;
  let retriedAt = -1;
  let retries = 0;
  let mismatches = 0;
  /** A flipped bit may be in flight (a bad read), not at rest: a batch found corrupt at
   *  `position` is re-read three times; true when it is still corrupt and is to be reported. */
  const reportCorrupt = (): boolean => {
    if (retriedAt === position && ++retries > 2) return true;
    if (retriedAt !== position) retries = 0;
    retriedAt = position;
    return false;
  };
  const step = (want: number): void => {
    if (position >= spec.limitBytes) return done({ kind: 'done', position });
    if (++steps > 3 * Math.ceil(spec.limitBytes / chunk) + 16) throw new Error('WALK: step budget exceeded');
    const length = Math.min(spec.limitBytes - position, Math.max(chunk, want));
    if (spec.confirmReads === true) return readConfirmed(length);
    q.emit(
      { kind: 'read', file: spec.file, offset: position, length },
      (r) => onChunk(r.data ?? new Uint8Array(0), length),
      (error) => done({ kind: 'ioError', error }),
    );
  };
  /** WALK-2: two reads of the chunk; on disagreement, two more (at most MAX_MISMATCHES times). */
  const readConfirmed = (length: number): void => {
    let first: Uint8Array | null = null;
    let failed = false;
    const op = { kind: 'read', file: spec.file, offset: position, length } as const;
    const fail = (error: DiskError): void => {
      if (!failed) done({ kind: 'ioError', error });
      failed = true;
    };
    q.emit(op, (r) => (first = r.data ?? new Uint8Array(0)), fail);
    q.emit(
      op,
      (r) => {
        if (failed || first === null) return;
        const second = r.data ?? new Uint8Array(0);
        if (sameBytes(first, second)) return onChunk(second, length);
        if (++mismatches > MAX_MISMATCHES) return done({ kind: 'ioError', error: 'EIO' });
        readConfirmed(length);
      },
      fail,
    );
  };
  const onChunk = (buf: Uint8Array, asked: number): void => {
    const atEof = buf.length < asked || position + buf.length >= spec.limitBytes;
    // A batch ending at or above endOffset is corrupt like any other (re-read, then reported).
    const r = scanBatches(
      buf,
      0,
      nextOffset,
      spec.maxBatchBytes,
      atEof,
      spec.strictOffsets ?? false,
      (off, size, base, last) => visit(buf, off, size, base, last, position + off) === 'continue',
      spec.endOffset,
    );
    position += r.position;
    if (r.stop === 'stopped') return done({ kind: 'done', position });
    nextOffset = r.nextOffset;
    if (r.stop === 'end') return done({ kind: 'done', position });
    if (r.stop === 'corrupt' && reportCorrupt()) return done({ kind: 'corrupt', position });
    step(r.neededBytes);
  };
  step(0);
};
