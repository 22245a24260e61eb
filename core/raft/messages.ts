// Raft RPCs of the controller quorum (KIP-595, KIP-996 pre-vote, KIP-630 snapshots), as plain
// data. Field names are the camelCase of the Kafka JSON schemas (VoteRequest.json,
// FetchRequest.json, ...), flattened to the single metadata partition the quorum replicates, so a
// wire codec can map them 1:1 later. Error codes are Kafka's numbers.
//
// Invariants: none of its own; messages are data. Record payloads are Uint8Array views of the
// sender's stored bytes (never copied on the data path).
// Faults: a message may be malformed or hostile; receivers validate (see replica.ts) and answer
// with an error code instead of throwing.
import type { ErrorCodeValue } from '../errors.ts';
import type { NodeId } from '../io.ts';

/** One replicated log entry as it travels. `control` marks quorum entries (LeaderChange) that
 *  the state machine never sees. */
export interface RaftRecord {
  readonly offset: number;
  readonly epoch: number;
  readonly control: boolean;
  readonly payload: Uint8Array;
}

export interface LeaderIdAndEpoch {
  readonly leaderId: NodeId | -1;
  readonly leaderEpoch: number;
}

export interface SnapshotId {
  readonly endOffset: number;
  readonly epoch: number;
}

export interface VoteRequest {
  readonly type: 'VoteRequest';
  readonly candidateEpoch: number;
  readonly candidateId: NodeId;
  readonly voterId: NodeId;
  readonly lastOffsetEpoch: number;
  readonly lastOffset: number;
  /** KIP-996: a pre-vote never changes the receiver's epoch or vote. */
  readonly preVote: boolean;
}

export interface VoteResponse {
  readonly type: 'VoteResponse';
  readonly errorCode: ErrorCodeValue;
  readonly leaderId: NodeId | -1;
  readonly leaderEpoch: number;
  readonly voteGranted: boolean;
  readonly preVote: boolean;
}

export interface BeginQuorumEpochRequest {
  readonly type: 'BeginQuorumEpochRequest';
  readonly voterId: NodeId;
  readonly leaderId: NodeId;
  readonly leaderEpoch: number;
}

export interface BeginQuorumEpochResponse {
  readonly type: 'BeginQuorumEpochResponse';
  readonly errorCode: ErrorCodeValue;
  readonly leaderId: NodeId | -1;
  readonly leaderEpoch: number;
}

export interface EndQuorumEpochRequest {
  readonly type: 'EndQuorumEpochRequest';
  readonly leaderId: NodeId;
  readonly leaderEpoch: number;
  readonly preferredSuccessors: readonly NodeId[];
}

export interface EndQuorumEpochResponse {
  readonly type: 'EndQuorumEpochResponse';
  readonly errorCode: ErrorCodeValue;
  readonly leaderId: NodeId | -1;
  readonly leaderEpoch: number;
}

export interface FetchRequest {
  readonly type: 'FetchRequest';
  readonly replicaId: NodeId;
  readonly maxWaitMs: number;
  readonly currentLeaderEpoch: number;
  /** The follower's durable log end: everything below it is fsynced (RAFT-6). */
  readonly fetchOffset: number;
  readonly lastFetchedEpoch: number;
  /**
   * Kafka's SessionEpoch field (FetchRequest v7+, there for incremental fetch sessions), reused
   * for RAFT-11: the highest `sessionId` of a FetchResponse the follower received from this
   * leader in this epoch (0: none). It proves this Fetch was sent after that response arrived.
   */
  readonly sessionEpoch: number;
  /**
   * The request header's CorrelationId (Kafka RequestHeader; its bytes are in HEADER_BYTES).
   * A follower numbers its Fetch and FetchSnapshot requests to the leader in one sequence, from a
   * random start per incarnation (0: a probe whose answer only reports the epoch); the response
   * echoes it, and the follower acts only on the answer to its one request in flight (RAFT-15,
   * replica.ts).
   */
  readonly correlationId: number;
}

export interface FetchResponse {
  readonly type: 'FetchResponse';
  readonly errorCode: ErrorCodeValue;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly divergingEpoch?: { readonly epoch: number; readonly endOffset: number };
  readonly snapshotId?: SnapshotId;
  readonly currentLeader: LeaderIdAndEpoch;
  readonly records: readonly RaftRecord[];
  /**
   * Kafka's SessionId field (FetchResponse v7+), reused for RAFT-11: the leader numbers its
   * responses to each follower 1, 2, ... within its epoch (0 on errors and to non-voters); the
   * follower echoes the highest number it received in its next Fetch's `sessionEpoch`.
   */
  readonly sessionId: number;
  /** The CorrelationId of the request this answers (Kafka ResponseHeader), echoed as received. */
  readonly correlationId: number;
}

export interface FetchSnapshotRequest {
  readonly type: 'FetchSnapshotRequest';
  readonly replicaId: NodeId;
  readonly maxBytes: number;
  readonly currentLeaderEpoch: number;
  readonly snapshotId: SnapshotId;
  readonly position: number;
  /** As in FetchRequest (one numbering for both). */
  readonly correlationId: number;
}

export interface FetchSnapshotResponse {
  readonly type: 'FetchSnapshotResponse';
  readonly errorCode: ErrorCodeValue;
  readonly snapshotId: SnapshotId;
  readonly currentLeader: LeaderIdAndEpoch;
  /** Total snapshot size in bytes. */
  readonly size: number;
  readonly position: number;
  readonly unalignedRecords: Uint8Array;
  /** The CorrelationId of the request this answers (Kafka ResponseHeader), echoed as received. */
  readonly correlationId: number;
}

export type RaftMessage =
  | VoteRequest
  | VoteResponse
  | BeginQuorumEpochRequest
  | BeginQuorumEpochResponse
  | EndQuorumEpochRequest
  | EndQuorumEpochResponse
  | FetchRequest
  | FetchResponse
  | FetchSnapshotRequest
  | FetchSnapshotResponse;

const HEADER_BYTES = 24; // request/response header, roughly: size, api key/version, correlation id, client id
const RECORD_OVERHEAD_BYTES = 24; // per entry: offset delta, epoch, length, attributes, crc share

/** Approximate encoded size in bytes, for bandwidth accounting in the simulator. */
export const raftMessageSize = (m: RaftMessage): number => {
  switch (m.type) {
    case 'VoteRequest':
      return HEADER_BYTES + 26;
    case 'VoteResponse':
      return HEADER_BYTES + 12;
    case 'BeginQuorumEpochRequest':
    case 'EndQuorumEpochRequest':
      return HEADER_BYTES + 16 + ('preferredSuccessors' in m ? 4 * m.preferredSuccessors.length : 0);
    case 'BeginQuorumEpochResponse':
    case 'EndQuorumEpochResponse':
      return HEADER_BYTES + 10;
    case 'FetchRequest':
      return HEADER_BYTES + 32;
    case 'FetchResponse': {
      let bytes = HEADER_BYTES + 48;
      for (const r of m.records) bytes += RECORD_OVERHEAD_BYTES + r.payload.length;
      return bytes;
    }
    case 'FetchSnapshotRequest':
      return HEADER_BYTES + 36;
    case 'FetchSnapshotResponse':
      return HEADER_BYTES + 40 + m.unalignedRecords.length;
  }
};

/** Structural validation of an untrusted message; returns a reason or undefined when well formed. */
export const invalidRaftMessage = (m: unknown): string | undefined => {
  if (typeof m !== 'object' || m === null) return 'not an object';
  const t = (m as { type?: unknown }).type;
  if (typeof t !== 'string') return 'no type';
  const nums = (...keys: string[]): string | undefined => {
    for (const k of keys) {
      const v = (m as Record<string, unknown>)[k];
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return `bad ${k}`;
    }
    return undefined;
  };
  switch (t) {
    case 'VoteRequest':
      return nums('candidateEpoch', 'candidateId', 'lastOffsetEpoch', 'lastOffset');
    case 'VoteResponse':
      return nums('errorCode', 'leaderId', 'leaderEpoch');
    case 'BeginQuorumEpochRequest':
    case 'EndQuorumEpochRequest':
      return nums('leaderId', 'leaderEpoch');
    case 'BeginQuorumEpochResponse':
    case 'EndQuorumEpochResponse':
      return nums('errorCode', 'leaderEpoch');
    case 'FetchRequest':
      return nums('replicaId', 'maxWaitMs', 'currentLeaderEpoch', 'fetchOffset', 'lastFetchedEpoch', 'sessionEpoch', 'correlationId');
    case 'FetchResponse':
      return nums('errorCode', 'highWatermark', 'logStartOffset', 'sessionId', 'correlationId') ?? (Array.isArray((m as FetchResponse).records) ? undefined : 'bad records');
    case 'FetchSnapshotRequest':
      return nums('replicaId', 'maxBytes', 'currentLeaderEpoch', 'position', 'correlationId');
    case 'FetchSnapshotResponse':
      return nums('errorCode', 'size', 'position', 'correlationId') ?? ((m as FetchSnapshotResponse).unalignedRecords instanceof Uint8Array ? undefined : 'bad bytes');
    default:
      return `unknown type ${t}`;
  }
};
