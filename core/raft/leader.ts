// Leader-side decisions of the quorum, as pure functions over the log store, split out of
// replica.ts (which keeps the leader's state and effects).
//
// Invariants:
//  RAFT-2 a Fetch is served only when (fetchOffset, lastFetchedEpoch) matches our log
//         (`validateFetch`, Kafka's validateOffsetAndEpoch); otherwise the answer is a
//         divergingEpoch, a snapshotId, or OFFSET_OUT_OF_RANGE.
//  RAFT-4 the HW candidate is the largest offset held durably by a majority (`majorityDurableEnd`);
//         the caller commits it only if its entry has the leader's epoch.
// Faults: a hostile fetchOffset/lastFetchedEpoch only produces one of those answers.
import type { FetchRequest, FetchResponse } from './messages.ts';
import { ErrorCode } from '../errors.ts';
import type { LogStore } from './log-store.ts';

/** Kafka's validateOffsetAndEpoch: undefined when (fetchOffset, lastFetchedEpoch) matches the log. */
export const validateFetch = (store: LogStore, req: FetchRequest): Partial<FetchResponse> | undefined => {
  const snap = store.snapshot;
  const start = store.logStartOffset;
  if (req.fetchOffset < start || (req.fetchOffset === start && start > 0 && snap && req.lastFetchedEpoch !== snap.id.epoch)) {
    return snap ? { snapshotId: snap.id } : { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
  }
  const eo = store.endOffsetForEpoch(req.lastFetchedEpoch);
  if (eo === undefined) return snap ? { snapshotId: snap.id } : { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
  if (eo.epoch !== req.lastFetchedEpoch || req.fetchOffset > eo.endOffset) {
    return { divergingEpoch: { epoch: eo.epoch, endOffset: eo.endOffset } };
  }
  return undefined;
};

/**
 * The largest offset that `majority` of the durable ends in `acks` reach (acks: one per voter).
 * Sorts `acks` in place (the caller passes a fresh array). Needs 1 <= majority <= acks.length:
 * the replica's constructor ensures it once (at least one voter, majority = floor(n/2) + 1).
 */
export const majorityDurableEnd = (acks: number[], majority: number): number => {
  acks.sort((a, b) => b - a);
  return acks[majority - 1];
};
