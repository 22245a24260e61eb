import { test } from 'node:test';
import fc from 'fast-check';
import { replayCommand, runLogProperty, type PropertyOptions } from './log-model.test.ts';

/** Runs the property; a failure throws fast-check's report (seed, shrunk counterexample) and the replay command. */
const holds = (opts: PropertyOptions): void => {
  const details = runLogProperty(opts);
  if (details.failed) throw new Error(`${fc.defaultReportMessage(details) ?? 'failed'}\nreplay: ${replayCommand(opts, details)}`);
};

// Bounded here (the suite must stay fast); scripts/sweep-log.ts runs thousands.
test('partition log matches the model through appends, reads, rolls, truncation, retention and crashes', () => {
  holds({ numRuns: 100 });
});

test('same, with read bit-flips, read errors and fsync failures', () => {
  holds({ numRuns: 60, faults: true });
});

test('cleanup.policy=compact with compaction commands, record-level checks and disk faults', () => {
  holds({ numRuns: 60, faults: true, compact: true });
});

test('flush.messages=4: durability still only counts synced data', () => {
  holds({ numRuns: 60, faults: true, flushMessages: 4 });
});

test('segment recycling: retention recycles segment files, rolls reuse them; crashes and faults', () => {
  holds({ numRuns: 60, faults: true, recycle: true });
});

test('segment recycling with cleanup.policy=compact', () => {
  holds({ numRuns: 30, faults: true, compact: true, recycle: true });
});
