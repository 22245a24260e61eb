import { test } from 'node:test';
import fc from 'fast-check';
import { runLogProperty } from './log-model.test.ts';

// Bounded here (the suite must stay fast); scripts/sweep-log.ts runs thousands.
test('partition log matches the model through appends, reads, rolls, truncation, retention and crashes', () => {
  const details = runLogProperty({ numRuns: 100 });
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? 'failed');
});

test('same, with read bit-flips, read errors and fsync failures', () => {
  const details = runLogProperty({ numRuns: 60, faults: true });
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? 'failed');
});

test('cleanup.policy=compact with compaction commands, record-level checks and disk faults', () => {
  const details = runLogProperty({ numRuns: 60, faults: true, compact: true });
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? 'failed');
});

test('flush.messages=4: durability still only counts synced data', () => {
  const details = runLogProperty({ numRuns: 60, faults: true, flushMessages: 4 });
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? 'failed');
});

test('segment recycling: retention recycles segment files, rolls reuse them; crashes and faults', () => {
  const details = runLogProperty({ numRuns: 60, faults: true, recycle: true });
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? 'failed');
});

test('segment recycling with cleanup.policy=compact', () => {
  const details = runLogProperty({ numRuns: 30, faults: true, compact: true, recycle: true });
  if (details.failed) throw new Error(fc.defaultReportMessage(details) ?? 'failed');
});
