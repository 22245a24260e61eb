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
import { ATTRIBUTES_OFFSET, batchSizeAt, readBatchHeader } from '../records/batch-header.ts';
import { decodeBatch, encodeBatch, forEachRecord } from '../records/batch.ts';
import { canCompress, COMPRESSION_CODEC_MASK } from '../records/compression.ts';

const TRANSACTIONAL_MASK = 0x10;
const CONTROL_MASK = 0x20;
const TIMESTAMP_TYPE_MASK = 0x08;

/** key (as a binary string) -> offset of its latest record in the range. */
export type KeyMap = Map<string, number>;

const keyString = (key: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < key.length; i++) s += String.fromCharCode(key[i]);
  return s;
};

const isSpecial = (buf: Uint8Array, off: number): boolean => {
  const attrs = new DataView(buf.buffer, buf.byteOffset + off + ATTRIBUTES_OFFSET, 2).getInt16(0);
  return (attrs & (TRANSACTIONAL_MASK | CONTROL_MASK)) !== 0;
};

/** Adds every keyed record of the batches in `segment` (CRC-checked whole batches) to `map`. */
export const addToKeyMap = (segment: Uint8Array, map: KeyMap): string | null => {
  for (let off = 0; off < segment.length; ) {
    const size = batchSizeAt(segment, off);
    if (!isSpecial(segment, off)) {
      const base = Number(readBatchHeader(segment, off).baseOffset);
      const r = forEachRecord(segment, off, (v) => {
        if (v.key !== null) map.set(keyString(v.key), base + v.offsetDelta);
      });
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
    const batch = decodeBatch(whole, 0, { verifyCrc: false });
    if ('error' in batch) return { error: batch.error.message };
    const keep = batch.records.filter((r) => {
      if (r.key === null) return true;
      if (map.get(keyString(r.key)) !== r.offset) return false;
      return !(dropTombstones && r.value === null);
    });
    removed += batch.records.length - keep.length;
    if (keep.length === batch.records.length) {
      out.push(whole); // CMP-3
      total += size;
      continue;
    }
    if (keep.length === 0 && off < segment.length) continue;
    if (keep.length === 0) {
      // CMP-4: the segment's last batch is kept whole even if superseded, so a scan of the
      // segment still ends at its last offset (recovery derives the log end from it).
      out.push(whole);
      total += size;
      continue;
    }
    const h = batch.header;
    const codec = h.attributes & COMPRESSION_CODEC_MASK;
    const rewritten = encodeBatch({
      baseOffset: h.baseOffset,
      partitionLeaderEpoch: h.partitionLeaderEpoch,
      baseTimestamp: h.baseTimestamp,
      maxTimestamp: h.maxTimestamp,
      producerId: h.producerId,
      producerEpoch: h.producerEpoch,
      baseSequence: h.baseSequence,
      logAppendTime: (h.attributes & TIMESTAMP_TYPE_MASK) !== 0,
      compression: canCompress(codec) ? (codec as 0 | 1 | 2) : 0,
      lastOffsetDelta: h.lastOffsetDelta,
      records: keep.map((r) => ({
        offsetDelta: r.offsetDelta,
        timestampDelta: r.timestampDelta,
        key: r.key,
        value: r.value,
        headers: r.headers,
        attributes: r.attributes,
      })),
    });
    out.push(rewritten);
    total += rewritten.length;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const b of out) {
    bytes.set(b, at);
    at += b.length;
  }
  return { bytes, recordsRemoved: removed };
};
