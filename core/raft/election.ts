// Election decisions of the quorum, as pure functions over the log store, split out of
// replica.ts (which keeps votes, roles and effects).
//
// Invariants:
//  RAFT-3 a vote (or pre-vote) is granted only to a candidate whose log is at least as
//         up-to-date as ours: higher last epoch, or the same last epoch and an end offset at
//         least ours (`candidateLogIsUpToDate`).
// Faults: none of its own (inputs were validated by the caller).
import type { LogStore } from './log-store.ts';

export const candidateLogIsUpToDate = (store: LogStore, lastOffsetEpoch: number, lastOffset: number): boolean => {
  const ourEpoch = store.lastEpoch();
  if (lastOffsetEpoch !== ourEpoch) return lastOffsetEpoch > ourEpoch;
  return lastOffset >= store.logEndOffset;
};
