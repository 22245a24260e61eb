// Sparse time index of one segment: (max timestamp so far i64, relative offset u32) pairs,
// serialized to `<base>.timeindex` (12 bytes per entry, big-endian, as Kafka's TimeIndex).
// Invariants: TIX-1 timestamps and offsets both strictly increase; TIX-2 every batch before an
// entry's offset has maxTimestamp <= that entry's timestamp, so a search for the first offset with
// timestamp >= t may start at the last entry whose timestamp < t.
// The last entry carries the segment's max timestamp once the segment is rolled (retention uses it).

export const TIME_INDEX_ENTRY_BYTES = 12;

/** A timestamp and the offset of the batch that carries it (`timestamp` -1: none). */
export interface TimestampAt {
  readonly timestamp: number;
  readonly offset: number;
}

export const NO_TIMESTAMP: TimestampAt = { timestamp: -1, offset: -1 };

export class TimeIndex {
  private ts = new Float64Array(16);
  private rel = new Uint32Array(16);
  length = 0;

  constructor(readonly baseOffset: number) {}

  /** Appends when `timestamp` exceeds the last entry's (TIX-1); otherwise a no-op. */
  maybeAppend(timestamp: number, offset: number): void {
    const r = offset - this.baseOffset;
    if (r < 0 || r > 0xffffffff) throw new Error('TIX: relative offset out of range');
    if (this.length > 0 && (timestamp <= this.ts[this.length - 1] || r <= this.rel[this.length - 1])) return;
    if (this.length === this.ts.length) {
      const ts = new Float64Array(this.ts.length * 2);
      const rel = new Uint32Array(this.rel.length * 2);
      ts.set(this.ts);
      rel.set(this.rel);
      this.ts = ts;
      this.rel = rel;
    }
    this.ts[this.length] = timestamp;
    this.rel[this.length] = r;
    this.length++;
  }

  /** The last entry, or NO_TIMESTAMP when empty. */
  lastEntry(): TimestampAt {
    return this.length === 0 ? NO_TIMESTAMP : { timestamp: this.ts[this.length - 1], offset: this.baseOffset + this.rel[this.length - 1] };
  }

  /** Offset at which a scan for the first timestamp >= `timestamp` may start (TIX-2). */
  lookupStart(timestamp: number): number {
    let found = -1;
    let lo = 0;
    let hi = this.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ts[mid] < timestamp) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found < 0 ? this.baseOffset : this.baseOffset + this.rel[found];
  }

  truncateFromOffset(offset: number): void {
    while (this.length > 0 && this.baseOffset + this.rel[this.length - 1] >= offset) this.length--;
  }

  serialize(): Uint8Array {
    const out = new Uint8Array(this.length * TIME_INDEX_ENTRY_BYTES);
    const v = new DataView(out.buffer);
    for (let i = 0; i < this.length; i++) {
      v.setBigInt64(i * 12, BigInt(this.ts[i]));
      v.setUint32(i * 12 + 8, this.rel[i]);
    }
    return out;
  }
}

/** Parses a time index file, or null if it breaks TIX-1. */
export const parseTimeIndex = (bytes: Uint8Array, baseOffset: number): TimeIndex | null => {
  if (bytes.length % TIME_INDEX_ENTRY_BYTES !== 0) return null;
  const idx = new TimeIndex(baseOffset);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let off = 0; off < bytes.length; off += 12) {
    const ts = Number(v.getBigInt64(off));
    const before = idx.length;
    idx.maybeAppend(ts, baseOffset + v.getUint32(off + 8));
    if (idx.length === before) return null;
  }
  return idx;
};
