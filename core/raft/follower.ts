// Follower-side decisions of the quorum, as pure functions over the log store, split out of
// replica.ts (which keeps the follower's state and effects).
//
// Invariants:
//  RAFT-2 a follower appends only records that continue its log exactly (offset = log end,
//         epochs non-decreasing, none above the current epoch); a reply overlapping our log with
//         another epoch is stale and is refused whole (`freshRecords`).
// Faults: malformed or hostile records (wrong types, gaps, epochs from the future) make the
// whole reply refused (undefined); the follower fetches again.
import type { LogStore } from './log-store.ts';
import type { RaftRecord } from './messages.ts';

/** The records of a leader's reply that extend our log, or undefined if the reply is malformed. */
export const freshRecords = (store: LogStore, records: readonly RaftRecord[], epoch: number): RaftRecord[] | undefined => {
  let prevEpoch = store.lastEpoch();
  let next = store.logEndOffset;
  const fresh: RaftRecord[] = [];
  for (const r of records) {
    if (!(r.payload instanceof Uint8Array) || !Number.isSafeInteger(r.offset) || !Number.isSafeInteger(r.epoch) || r.epoch > epoch) return undefined;
    if (r.offset < next && fresh.length === 0) {
      const have = store.entryAt(r.offset);
      if (have !== undefined && have.epoch !== r.epoch) return undefined; // a stale reply; refetch
      continue;
    }
    if (r.offset !== next || r.epoch < prevEpoch) return undefined;
    fresh.push(r);
    prevEpoch = r.epoch;
    next++;
  }
  return fresh;
};
