// Leader-epoch cache: epoch -> first offset written in that epoch (Kafka's LeaderEpochFileCache).
// Invariants: EPOCH-1 epochs and start offsets both strictly increase along the cache; EPOCH-2
// `endOffsetFor` follows Kafka's OffsetsForLeaderEpoch: for the latest epoch, the log end offset;
// for an older epoch E, the start offset of the first epoch > E, together with the largest
// epoch <= E; for an epoch above the latest, or none cached, UNDEFINED (-1, -1).
// Persisted as `leader-epoch-checkpoint` (version 0, count, "epoch offset" lines).
import { encodeCheckpoint, parseCheckpoint, parseOffset } from './checkpoint-file.ts';

export const UNDEFINED_EPOCH = -1;
export const UNDEFINED_EPOCH_OFFSET = -1;

export interface EpochEntry {
  readonly epoch: number;
  readonly startOffset: number;
}

export class LeaderEpochCache {
  private entries: EpochEntry[] = [];

  all(): readonly EpochEntry[] {
    return this.entries;
  }

  latestEpoch(): number {
    return this.entries.length === 0 ? UNDEFINED_EPOCH : this.entries[this.entries.length - 1].epoch;
  }

  /**
   * Records that `epoch` starts at `startOffset`. As Kafka does, a repeat of the latest epoch is a
   * no-op, and entries not strictly older in both epoch and start offset are removed first, so
   * EPOCH-1 holds whatever order assignments arrive in.
   */
  assign(epoch: number, startOffset: number): void {
    if (epoch < 0 || startOffset < 0) return;
    const last = this.entries[this.entries.length - 1];
    if (last !== undefined && epoch === last.epoch && startOffset >= last.startOffset) return;
    while (this.entries.length > 0) {
      const top = this.entries[this.entries.length - 1];
      if (top.epoch < epoch && top.startOffset < startOffset) break;
      this.entries.pop();
    }
    this.entries.push({ epoch, startOffset });
  }

  /** EPOCH-2: Kafka's OffsetsForLeaderEpoch answer for `requestedEpoch`. */
  endOffsetFor(requestedEpoch: number, logEndOffset: number): { epoch: number; endOffset: number } {
    const undef = { epoch: UNDEFINED_EPOCH, endOffset: UNDEFINED_EPOCH_OFFSET };
    if (requestedEpoch === UNDEFINED_EPOCH || this.entries.length === 0) return undef;
    if (requestedEpoch === this.latestEpoch()) return { epoch: requestedEpoch, endOffset: logEndOffset };
    const higher = this.entries.findIndex((e) => e.epoch > requestedEpoch);
    if (higher < 0) return undef;
    const higherStart = this.entries[higher].startOffset;
    if (higher === 0) return { epoch: requestedEpoch, endOffset: higherStart };
    return { epoch: this.entries[higher - 1].epoch, endOffset: higherStart };
  }

  /** Drops entries starting at or after `endOffset` (log truncation). */
  truncateFromEnd(endOffset: number): void {
    while (this.entries.length > 0 && this.entries[this.entries.length - 1].startOffset >= endOffset) this.entries.pop();
  }

  /** Drops entries wholly before `startOffset`; the last such entry is kept, moved to it. */
  truncateFromStart(startOffset: number): void {
    let i = 0;
    while (i + 1 < this.entries.length && this.entries[i + 1].startOffset <= startOffset) i++;
    this.entries = this.entries.slice(i);
    const first = this.entries[0];
    if (first !== undefined && first.startOffset < startOffset) this.entries[0] = { epoch: first.epoch, startOffset };
  }

  encode(): Uint8Array {
    return encodeCheckpoint(this.entries.map((e) => [e.epoch, e.startOffset]));
  }

  /** Loads a checkpoint; a malformed one (or one breaking EPOCH-1) leaves the cache empty. */
  static decode(bytes: Uint8Array | null): LeaderEpochCache {
    return LeaderEpochCache.parse(bytes) ?? new LeaderEpochCache();
  }

  /** The cache a checkpoint holds, or null if it is absent or does not parse (or breaks EPOCH-1). */
  static parse(bytes: Uint8Array | null): LeaderEpochCache | null {
    const cache = new LeaderEpochCache();
    const rows = bytes === null ? null : parseCheckpoint(bytes, 2);
    if (rows === null) return null;
    for (const [e, o] of rows) {
      const epoch = parseOffset(e);
      const start = parseOffset(o);
      const last = cache.entries[cache.entries.length - 1];
      if (epoch === null || start === null || epoch < 0 || start < 0) return null;
      if (last !== undefined && (epoch <= last.epoch || start <= last.startOffset)) return null; // EPOCH-1
      cache.entries.push({ epoch, startOffset: start });
    }
    return cache;
  }
}
