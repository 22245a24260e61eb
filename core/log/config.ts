// Per-partition log configuration (Kafka topic configs, with Kafka's names in the comments).
// Invariant CFG-1: every size and interval is a positive integer (checked by `logConfig`).

export type CleanupPolicy = 'delete' | 'compact';

export interface LogConfig {
  /** Directory of this partition, relative to the node's data dir, e.g. 'orders-0'. */
  readonly dir: string;
  readonly topic: string;
  readonly partition: number;
  /** segment.bytes: the active segment is preallocated to this size and rolled before exceeding it. */
  readonly segmentBytes: number;
  /** segment.ms: roll when the active segment is older than this (wall clock of its first append). */
  readonly segmentMs: number;
  /** index.interval.bytes: one sparse offset-index entry per this many appended bytes. */
  readonly indexIntervalBytes: number;
  /** retention.ms on a segment's max timestamp; -1 keeps forever. */
  readonly retentionMs: number;
  /** retention.bytes for the whole partition; -1 is unbounded. */
  readonly retentionBytes: number;
  /** cleanup.policy */
  readonly cleanupPolicy: CleanupPolicy;
  /** delete.retention.ms: how long tombstones survive compaction. */
  readonly deleteRetentionMs: number;
  /** Bytes of already-written recent batches kept in memory to serve tail reads. */
  readonly tailCacheBytes: number;
  /** Upper bound on bytes accepted but not yet handed to the disk (back-pressure, LOG-7). */
  readonly maxPendingBytes: number;
  /**
   * flush.messages: 1 (default) syncs every group commit. N > 1 opts out of per-append
   * durability: commits only write, and a sync follows once N offsets are unsynced, on
   * `flush()`, on a roll, or after `flushMs` (checked on append and `tick`). `durableOffset`
   * still only counts synced data.
   */
  readonly flushMessages: number;
  /** flush.ms: -1 (default) disables time-based flushing. */
  readonly flushMs: number;
  /**
   * Segment recycling (off by default): a segment deleted whole by retention is renamed into a
   * recycle slot (at most `RECYCLE_SLOTS`) and a later roll renames it back as the new segment,
   * so appends rewrite allocated blocks instead of fresh (zero-filled / sparse) space. See
   * partition-log.ts (SEG-4, REC-LOG) for what this changes on disk.
   */
  readonly segmentRecycling: boolean;
  /**
   * Group commits in flight at once (LOG-4). 1: each commit's write + sync completes before the
   * next is issued. N > 1: a commit that is one durable write (write + sync of that write, one
   * op) of at most `pipelineMaxBytes` may be issued while up to N - 1 such commits are in flight;
   * the disk overlaps them (on this machine two in flight beat one at a time by ~1.4x).
   * Durability still advances in order: an acknowledgement waits for every earlier commit.
   */
  readonly commitDepth: number;
  /** Largest commit that may overlap others; a larger one waits until none is in flight. */
  readonly pipelineMaxBytes: number;
  /**
   * Bytes per disk read of a walk over a segment (consumer reads, timestamp lookups,
   * truncation's cut); a batch larger than this is read whole. Not a Kafka config: the property
   * tests make it small so that walks take many reads and batches straddle chunks.
   */
  readonly readChunkBytes: number;
}

export const defaultLogConfig = (dir: string, topic: string, partition: number): LogConfig => ({
  dir,
  topic,
  partition,
  segmentBytes: 64 * 1024 * 1024,
  segmentMs: 7 * 24 * 3600 * 1000,
  indexIntervalBytes: 4096,
  retentionMs: 7 * 24 * 3600 * 1000,
  retentionBytes: -1,
  cleanupPolicy: 'delete',
  deleteRetentionMs: 24 * 3600 * 1000,
  tailCacheBytes: 4 * 1024 * 1024,
  maxPendingBytes: 64 * 1024 * 1024,
  flushMessages: 1,
  flushMs: -1,
  segmentRecycling: false,
  commitDepth: 2,
  pipelineMaxBytes: 1024 * 1024,
  readChunkBytes: 256 * 1024,
});

/** Fills defaults and checks CFG-1; throws on a bad config (a programming error of the caller). */
export const logConfig = (c: Partial<LogConfig> & Pick<LogConfig, 'dir' | 'topic' | 'partition'>): LogConfig => {
  const cfg = { ...defaultLogConfig(c.dir, c.topic, c.partition), ...c };
  for (const k of ['segmentBytes', 'segmentMs', 'indexIntervalBytes', 'tailCacheBytes', 'maxPendingBytes', 'flushMessages', 'commitDepth', 'pipelineMaxBytes', 'readChunkBytes'] as const) {
    if (!Number.isInteger(cfg[k]) || cfg[k] <= 0) throw new Error(`CFG-1: ${k} must be a positive integer`);
  }
  if (cfg.segmentBytes > 0x7fffffff) throw new Error('CFG-1: segmentBytes must fit in an i32 position');
  if (cfg.dir.length === 0 || cfg.dir.includes('..')) throw new Error('CFG-1: bad dir');
  return cfg;
};
