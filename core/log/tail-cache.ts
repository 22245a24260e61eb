// In-memory tail of the log: views of the most recently appended batches, so reads of fresh data
// (the common consumer and follower case) need no disk read.
// Invariants: TAIL-1 entries are contiguous in log order and end at the log end offset; TAIL-2 every
// batch not yet handed to the disk (offset >= writtenOffset) is in the cache — eviction only drops
// written batches, oldest first, once the written part exceeds the byte budget.
// The views alias the caller's append buffers (no copy): callers must not reuse them.

export interface TailEntry {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly bytes: Uint8Array;
}

export class TailCache {
  private entries: TailEntry[] = [];
  private head = 0;
  private bytes = 0;

  constructor(private readonly budgetBytes: number) {}

  /** First offset served from memory (Infinity-safe: returns `fallback` when empty). */
  startOffset(fallback: number): number {
    return this.head < this.entries.length ? this.entries[this.head].baseOffset : fallback;
  }

  add(e: TailEntry): void {
    const last = this.entries[this.entries.length - 1];
    if (this.head < this.entries.length && last.lastOffset >= e.baseOffset) throw new Error('TAIL-1: out of order');
    this.entries.push(e);
    this.bytes += e.bytes.length;
  }

  /** Evicts written batches (lastOffset < writtenOffset) while over budget (TAIL-2). */
  evict(writtenOffset: number): void {
    while (this.head < this.entries.length && this.bytes > this.budgetBytes) {
      const e = this.entries[this.head];
      if (e.lastOffset >= writtenOffset) break;
      this.bytes -= e.bytes.length;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops entries wholly below `offset` from the head (their bytes were rewritten on disk). */
  dropBelow(offset: number): void {
    while (this.head < this.entries.length && this.entries[this.head].lastOffset < offset) {
      this.bytes -= this.entries[this.head].bytes.length;
      this.head++;
    }
  }

  /** Drops every entry containing an offset >= `offset`. */
  truncateFrom(offset: number): void {
    while (this.entries.length > this.head && this.entries[this.entries.length - 1].lastOffset >= offset) {
      this.bytes -= this.entries.pop()!.bytes.length;
    }
  }

  clear(): void {
    this.entries = [];
    this.head = 0;
    this.bytes = 0;
  }

  /**
   * Whole batches from the one containing `fetchOffset`: at least one, then while the total stays
   * within `maxBytes`; only batches entirely below `upperBound`. Null when `fetchOffset` is older
   * than the cache.
   */
  read(fetchOffset: number, maxBytes: number, upperBound: number): Uint8Array[] | null {
    if (this.head >= this.entries.length || fetchOffset < this.entries[this.head].baseOffset) return null;
    let lo = this.head;
    let hi = this.entries.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid].lastOffset < fetchOffset) lo = mid + 1;
      else hi = mid;
    }
    const out: Uint8Array[] = [];
    let total = 0;
    for (let i = lo; i < this.entries.length; i++) {
      const e = this.entries[i];
      if (e.lastOffset < fetchOffset) continue;
      if (e.lastOffset >= upperBound) break;
      if (out.length > 0 && total + e.bytes.length > maxBytes) break;
      out.push(e.bytes);
      total += e.bytes.length;
    }
    return out;
  }
}
