// In-memory tail of the log: views of the most recently appended batches, so reads of fresh data
// (the common consumer and follower case) need no disk read.
// Invariants: TAIL-1 entries are contiguous in log order and end at the log end offset; TAIL-2 every
// batch not yet handed to the disk (offset >= writtenOffset) is in the cache — eviction only drops
// written batches, oldest first, once the written part exceeds the byte budget.
// The views alias the caller's append buffers (no copy): callers must not reuse them.

/**
 * Entries are kept in three parallel arrays (base offset, last offset, bytes) from `head` on: an
 * append adds an entry per batch, and this way that costs no object per batch.
 */
export class TailCache {
  private bases: number[] = [];
  private lasts: number[] = [];
  private views: Uint8Array[] = [];
  private head = 0;
  private bytes = 0;

  constructor(private readonly budgetBytes: number) {}

  /** First offset served from memory (Infinity-safe: returns `fallback` when empty). */
  startOffset(fallback: number): number {
    return this.head < this.bases.length ? this.bases[this.head] : fallback;
  }

  /** Adds the batch `bytes` holding offsets baseOffset..lastOffset (TAIL-1: after every entry). */
  add(baseOffset: number, lastOffset: number, bytes: Uint8Array): void {
    const n = this.lasts.length;
    if (this.head < n && this.lasts[n - 1] >= baseOffset) throw new Error('TAIL-1: out of order');
    this.bases.push(baseOffset);
    this.lasts.push(lastOffset);
    this.views.push(bytes);
    this.bytes += bytes.length;
  }

  /** Evicts written batches (lastOffset < writtenOffset) while over budget (TAIL-2). */
  evict(writtenOffset: number): void {
    this.dropHead(writtenOffset, this.budgetBytes);
  }

  /** Drops entries wholly below `offset` from the head (their bytes were rewritten on disk). */
  dropBelow(offset: number): void {
    this.dropHead(offset, -1);
  }

  /**
   * Drops head entries wholly below `offset` while more than `keepBytes` are held, then compacts
   * the arrays once the dropped head is most of them.
   */
  private dropHead(offset: number, keepBytes: number): void {
    while (this.head < this.lasts.length && this.bytes > keepBytes && this.lasts[this.head] < offset) {
      this.bytes -= this.views[this.head].length;
      this.views[this.head] = EMPTY; // the caller's buffer is no longer held
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.lasts.length) {
      this.bases = this.bases.slice(this.head);
      this.lasts = this.lasts.slice(this.head);
      this.views = this.views.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops every entry containing an offset >= `offset`. */
  truncateFrom(offset: number): void {
    while (this.lasts.length > this.head && this.lasts[this.lasts.length - 1] >= offset) {
      this.bases.pop();
      this.lasts.pop();
      this.bytes -= this.views.pop()!.length;
    }
  }

  /**
   * Whole batches from the one containing `fetchOffset`: at least one, then while the total stays
   * within `maxBytes`; only batches entirely below `upperBound`. Null when `fetchOffset` is older
   * than the cache.
   */
  read(fetchOffset: number, maxBytes: number, upperBound: number): Uint8Array[] | null {
    if (this.head >= this.bases.length || fetchOffset < this.bases[this.head]) return null;
    let lo = this.head;
    let hi = this.lasts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.lasts[mid] < fetchOffset) lo = mid + 1;
      else hi = mid;
    }
    const out: Uint8Array[] = [];
    let total = 0;
    for (let i = lo; i < this.lasts.length; i++) {
      const last = this.lasts[i];
      const v = this.views[i];
      if (last < fetchOffset) continue;
      if (last >= upperBound) break;
      if (out.length > 0 && total + v.length > maxBytes) break;
      out.push(v);
      total += v.length;
    }
    return out;
  }
}

const EMPTY = new Uint8Array(0);
