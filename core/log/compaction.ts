// Key-based compaction (cleanup.policy=compact), as Kafka's LogCleaner: over a cleanable range of
// whole, non-active segments, keep only the last record per key; drop tombstones (null value)
// once their segment is older than delete.retention.ms; keep every surviving record's offset
// (batches are rewritten with their original baseOffset and lastOffsetDelta, so offsets never
// move and consumers see gaps, never renumbering); batches left empty are removed.
// Invariants: CMP-1 a record survives iff no later record in the cleaned range has its key (or it
// has no key, or it is in a control/transactional batch — those are kept whole); CMP-2 the
// cleaned segment holds a subsequence of the original batches' records, in offset order, with
// identical key, value, headers, offsets and timestamps; CMP-3 a batch no record of which was
// removed is copied byte for byte; CMP-4 a segment's last batch is never removed entirely.
// Pure functions; partition-log.ts drives the disk side (read, write `.cleaned`, sync, swap).
import { attributesAt, baseOffsetAt, batchSizeAt, CONTROL_MASK, TIMESTAMP_TYPE_MASK, TRANSACTIONAL_MASK } from '../records/batch-header.ts';
import { assembleBatch, forEachRecord } from '../records/batch.ts';
import type { RecordView } from '../records/record.ts';
import { canCompress, COMPRESSION_CODEC_MASK } from '../records/compression.ts';
import { concatBytes } from '../bytes.ts';

/** key (as a binary string) -> offset of its latest record in the range. */
export type KeyMap = Map<string, number>;

/** The key of the record in `v` (keyLength >= 0) as a map key, read from the section in place. */
const keyString = (v: RecordView): string => {
  let s = '';
  for (let i = v.keyStart; i < v.keyStart + v.keyLength; i++) s += String.fromCharCode(v.src[i]);
  return s;
};

const isSpecial = (buf: Uint8Array, off: number): boolean => {
  return (attributesAt(buf, off) & (TRANSACTIONAL_MASK | CONTROL_MASK)) !== 0;
};

/** Adds every keyed record of the batches in `segment` (CRC-checked whole batches) to `map`. */
export const addToKeyMap = (segment: Uint8Array, map: KeyMap): string | null => {
  for (let off = 0; off < segment.length; ) {
    const size = batchSizeAt(segment, off);
    if (!isSpecial(segment, off)) {
      const base = baseOffsetAt(segment, off);
      const r = forEachRecord(
        segment,
        off,
        (v) => {
          if (v.keyLength >= 0) map.set(keyString(v), base + v.offsetDelta);
        },
        { views: false },
      );
      if ('error' in r) return r.error.message;
    }
    off += size;
  }
  return null;
};

export interface CleanResult {
  readonly bytes: Uint8Array;
  readonly recordsRemoved: number;
}

/**
 * Rewrites the batches of one segment (`segment`: whole, CRC-checked batches) keeping what
 * CMP-1 keeps. `dropTombstones`: the segment is past delete.retention.ms.
 */
export const cleanSegment = (segment: Uint8Array, map: KeyMap, dropTombstones: boolean): CleanResult | { error: string } => {
  const out: Uint8Array[] = [];
  let total = 0;
  let removed = 0;
  for (let off = 0; off < segment.length; ) {
    const size = batchSizeAt(segment, off);
    const whole = segment.subarray(off, off + size);
    off += size;
    if (isSpecial(whole, 0)) {
      out.push(whole);
      total += size;
      continue;
    }
    // Kept records as [start, end) ranges of their encoded bytes in the (decompressed) section.
    const base = baseOffsetAt(whole, 0);
    const kept: number[] = [];
    let keptCount = 0;
    let count = 0;
    let section = whole;
    const r = forEachRecord(
      whole,
      0,
      (v) => {
        count++;
        section = v.src;
        if (v.keyLength >= 0 && map.get(keyString(v)) !== base + v.offsetDelta) return;
        if (v.keyLength >= 0 && dropTombstones && v.valueLength < 0) return;
        keptCount++;
        const end = v.recordStart + v.sizeBytes;
        if (kept.length > 0 && kept[kept.length - 1] === v.recordStart) kept[kept.length - 1] = end;
        else kept.push(v.recordStart, end);
      },
      { verifyCrc: false, views: false },
    );
    if ('error' in r) return { error: r.error.message };
    removed += count - keptCount;
    if (keptCount === count) {
      out.push(whole); // CMP-3
      total += size;
      continue;
    }
    if (keptCount === 0 && off < segment.length) continue;
    if (keptCount === 0) {
      // CMP-4: the segment's last batch is kept whole even if superseded, so a scan of the
      // segment still ends at its last offset (recovery derives the log end from it).
      out.push(whole);
      total += size;
      continue;
    }
    // The kept records' own bytes, re-wrapped (offset and timestamp deltas unchanged, CMP-2).
    let plainBytes = 0;
    for (let i = 0; i < kept.length; i += 2) plainBytes += kept[i + 1] - kept[i];
    const plain = new Uint8Array(plainBytes);
    for (let i = 0, at = 0; i < kept.length; i += 2) {
      plain.set(section.subarray(kept[i], kept[i + 1]), at);
      at += kept[i + 1] - kept[i];
    }
    const h = r.header;
    const codec = h.attributes & COMPRESSION_CODEC_MASK;
    const rewritten = assembleBatch(
      {
        baseOffset: h.baseOffset,
        partitionLeaderEpoch: h.partitionLeaderEpoch,
        baseTimestamp: h.baseTimestamp,
        maxTimestamp: h.maxTimestamp,
        producerId: h.producerId,
        producerEpoch: h.producerEpoch,
        baseSequence: h.baseSequence,
        logAppendTime: (h.attributes & TIMESTAMP_TYPE_MASK) !== 0,
        compression: canCompress(codec) ? codec : 0,
        recordsCount: keptCount,
        lastOffsetDelta: h.lastOffsetDelta,
      },
      plain,
    );
    out.push(rewritten);
    total += rewritten.length;
  }
  return { bytes: concatBytes(out, total), recordsRemoved: removed };
};
