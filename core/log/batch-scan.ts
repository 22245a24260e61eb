// Validating walk over concatenated RecordBatches as they lie in a segment file.
// A segment is preallocated with zeroes, so the logical end is the first position whose 12-byte
// prefix is all zeroes (batchLength 0). Anything else that is not a whole, magic-2, CRC-valid
// batch with a baseOffset not below the expected next offset is corruption (torn write, bit-rot,
// garbage): SCAN-1 the walk stops before it and reports where, so recovery can truncate there.
// baseOffset and partitionLeaderEpoch lie outside the CRC; `strictOffsets` (logs that are never
// compacted, so offsets are dense) also catches a flipped baseOffset: each batch must start
// exactly at the expected next offset; an `endOffset` (the segment's next offset, or SEG-2's
// bound) catches a flipped high bit in compacted logs too: a batch must end below it.
// A flipped leader epoch is undetectable (Kafka's format).
import {
  BATCH_HEADER_SIZE,
  BATCH_LOG_OVERHEAD,
  baseOffsetAt,
  batchCrcValid,
  batchSizeAt,
  lastOffsetDeltaAt,
} from '../records/batch-header.ts';

export type ScanStop =
  | 'end' // zero batchLength: the logical end of the segment
  | 'more' // the buffer ends inside a batch (or inside its 12-byte prefix): read more
  | 'corrupt' // an invalid batch at `position`
  | 'stopped'; // the visitor asked to stop; `position` is just after the batch it stopped on

export interface ScanResult {
  /** Position (relative to the buffer) where the walk stopped. */
  position: number;
  nextOffset: number;
  stop: ScanStop;
  /** For 'more': total size of the batch that did not fit, or -1 if its prefix did not fit. */
  neededBytes: number;
}

const isZero = (buf: Uint8Array, off: number, len: number): boolean => {
  for (let i = 0; i < len; i++) if (buf[off + i] !== 0) return false;
  return true;
};

/**
 * Walks `buf` from `start`, calling `onBatch(off, size, ...)` for every valid batch (false stops).
 * `maxBatchBytes` bounds a batch's size (a larger one is corrupt); `atEof` says the buffer holds
 * everything up to the end of the file, so a partial batch at its end is a torn tail, not 'more';
 * a batch whose last offset is not below `endOffset` is corrupt too (stopped before, as the rest).
 */
export const scanBatches = (
  buf: Uint8Array,
  start: number,
  expectedNextOffset: number,
  maxBatchBytes: number,
  atEof: boolean,
  strictOffsets: boolean,
  onBatch: (off: number, size: number, baseOffset: number, lastOffset: number) => boolean | void,
  endOffset = Infinity,
): ScanResult => {
  let pos = start;
  let next = expectedNextOffset;
  for (let guard = 0; guard <= buf.length; guard++) {
    const remaining = buf.length - pos;
    if (remaining === 0) return { position: pos, nextOffset: next, stop: atEof ? 'end' : 'more', neededBytes: -1 };
    if (remaining < BATCH_LOG_OVERHEAD) {
      if (isZero(buf, pos, remaining)) return { position: pos, nextOffset: next, stop: atEof ? 'end' : 'more', neededBytes: -1 };
      return { position: pos, nextOffset: next, stop: atEof ? 'corrupt' : 'more', neededBytes: -1 };
    }
    if (isZero(buf, pos, BATCH_LOG_OVERHEAD)) return { position: pos, nextOffset: next, stop: 'end', neededBytes: 0 };
    const size = batchSizeAt(buf, pos);
    if (size < BATCH_HEADER_SIZE || size > maxBatchBytes) return { position: pos, nextOffset: next, stop: 'corrupt', neededBytes: size };
    if (size > remaining) return { position: pos, nextOffset: next, stop: atEof ? 'corrupt' : 'more', neededBytes: size };
    const base = baseOffsetAt(buf, pos);
    const delta = lastOffsetDeltaAt(buf, pos);
    const gapOk = strictOffsets ? base === next : base >= next;
    if (!batchCrcValid(buf, pos) || !gapOk || delta < 0 || !Number.isSafeInteger(base + delta) || base + delta >= endOffset) {
      return { position: pos, nextOffset: next, stop: 'corrupt', neededBytes: size };
    }
    const goOn = onBatch(pos, size, base, base + delta);
    next = base + delta + 1;
    pos += size;
    if (goOn === false) return { position: pos, nextOffset: next, stop: 'stopped', neededBytes: 0 };
  }
  throw new Error('SCAN: walk did not terminate');
};
