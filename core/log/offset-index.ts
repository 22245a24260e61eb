// Sparse offset index of one segment: (relative offset u32, file position u32) pairs, one per
// `indexIntervalBytes` of appended data, kept in memory and serialized to `<base>.index`
// (8 bytes per entry, big-endian, as Kafka's OffsetIndex).
// Invariants: IDX-1 entries are strictly increasing in both offset and position; IDX-2 every
// entry names the start of a batch whose baseOffset is exactly base + relativeOffset.
// Faults: the file is never trusted blindly — `parseOffsetIndex` rejects a file that breaks IDX-1
// or points past the segment (recovery then rebuilds it by scanning).

export const OFFSET_INDEX_ENTRY_BYTES = 8;
const MAX_ENTRIES = 1 << 26; // bound (LOG-7): 512 MiB of index is far beyond any sane segment

export class OffsetIndex {
  private rel = new Uint32Array(16);
  private pos = new Uint32Array(16);
  length = 0;

  constructor(readonly baseOffset: number) {}

  append(offset: number, position: number): void {
    const r = offset - this.baseOffset;
    if (r < 0 || r > 0xffffffff) throw new Error(`IDX: relative offset out of range ${offset}`);
    if (this.length > 0 && (r <= this.rel[this.length - 1] || position <= this.pos[this.length - 1])) {
      throw new Error('IDX-1: offset index entries must increase');
    }
    if (this.length === this.rel.length) this.grow();
    this.rel[this.length] = r;
    this.pos[this.length] = position;
    this.length++;
  }

  private grow(): void {
    if (this.rel.length >= MAX_ENTRIES) throw new Error('IDX: index too large');
    const rel = new Uint32Array(this.rel.length * 2);
    const pos = new Uint32Array(this.pos.length * 2);
    rel.set(this.rel);
    pos.set(this.pos);
    this.rel = rel;
    this.pos = pos;
  }

  /** Index of the last entry with offset <= `offset`, or -1. */
  private floor(offset: number): number {
    const r = offset - this.baseOffset;
    let lo = 0;
    let hi = this.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rel[mid] <= r) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }

  /** The floor entry for `offset` as [absolute offset, position], or [baseOffset, 0]. */
  lookupEntry(offset: number): [number, number] {
    const i = this.floor(offset);
    return i < 0 ? [this.baseOffset, 0] : [this.baseOffset + this.rel[i], this.pos[i]];
  }

  /** Entry i as [absolute offset, position]. */
  entry(i: number): [number, number] {
    if (i < 0 || i >= this.length) throw new Error('IDX: entry out of range');
    return [this.baseOffset + this.rel[i], this.pos[i]];
  }

  /** Drops entries with offset >= `offset` (truncation). */
  truncateFromOffset(offset: number): void {
    while (this.length > 0 && this.baseOffset + this.rel[this.length - 1] >= offset) this.length--;
  }

  serialize(): Uint8Array {
    const out = new Uint8Array(this.length * OFFSET_INDEX_ENTRY_BYTES);
    const v = new DataView(out.buffer);
    for (let i = 0; i < this.length; i++) {
      v.setUint32(i * 8, this.rel[i]);
      v.setUint32(i * 8 + 4, this.pos[i]);
    }
    return out;
  }
}

/** Parses an index file, or null if it breaks IDX-1 or points at or past `segmentSizeBytes`. */
export const parseOffsetIndex = (bytes: Uint8Array, baseOffset: number, segmentSizeBytes: number): OffsetIndex | null => {
  if (bytes.length % OFFSET_INDEX_ENTRY_BYTES !== 0) return null;
  const idx = new OffsetIndex(baseOffset);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let lastRel = -1;
  let lastPos = -1;
  for (let off = 0; off < bytes.length; off += 8) {
    const rel = v.getUint32(off);
    const pos = v.getUint32(off + 4);
    if (rel <= lastRel || pos <= lastPos || pos >= segmentSizeBytes) return null;
    idx.append(baseOffset + rel, pos);
    lastRel = rel;
    lastPos = pos;
  }
  return idx;
};
