// Retention planning (cleanup.policy=delete): which leading segments may be deleted whole.
// RET-1 never the active (last) segment; RET-2 only segments whose every offset is below
// `upperOffset` (min of high watermark and durable offset) — Kafka's deletable-segment bound;
// RET-3 a segment goes if (a) its max timestamp is older than retention.ms, or (b) the log is
// over retention.bytes by at least its size, or (c) it lies wholly below logStartOffset.
import type { LogConfig } from './config.ts';
import type { Segment } from './segment.ts';

export interface RetentionPlan {
  /** How many segments, from the oldest, to delete. */
  readonly deleteCount: number;
}

export const planRetention = (
  segments: readonly Segment[],
  config: LogConfig,
  wallMs: number,
  logStartOffset: number,
  upperOffset: number,
): RetentionPlan => {
  let total = 0;
  for (const s of segments) total += s.sizeBytes;
  let excess = config.retentionBytes >= 0 ? total - config.retentionBytes : -1;
  let n = 0;
  for (; n < segments.length - 1; n++) {
    const seg = segments[n];
    const nextBase = segments[n + 1].baseOffset;
    if (nextBase > upperOffset) break; // RET-2
    const belowStart = nextBase <= logStartOffset;
    const expired =
      config.cleanupPolicy === 'delete' && config.retentionMs >= 0 && seg.maxTimestamp >= 0 && wallMs - seg.maxTimestamp > config.retentionMs;
    const oversize = config.cleanupPolicy === 'delete' && excess >= seg.sizeBytes;
    if (!belowStart && !expired && !oversize) break;
    excess -= seg.sizeBytes;
  }
  if (n > segments.length - 1) throw new Error('RET-1: would delete the active segment');
  return { deleteCount: n };
};
