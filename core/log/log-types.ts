// Public result and event types of the partition log (see partition-log.ts).

export type LogError =
  | 'NONE'
  | 'OFFSET_OUT_OF_RANGE'
  | 'KAFKA_STORAGE_ERROR'
  | 'CORRUPT_MESSAGE'
  | 'RECORD_BATCH_TOO_LARGE'
  | 'NOT_READY'
  | 'BUFFER_FULL';

export interface ReadResult {
  readonly error: LogError;
  /** Whole batches, in offset order (views; memory reads alias the appended buffers). */
  readonly chunks: readonly Uint8Array[];
  readonly sizeBytes: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
}

export interface Corruption {
  readonly file: string;
  readonly position: number;
  readonly detail: string;
}

export type LogEvent =
  | { readonly kind: 'ready'; readonly logEndOffset: number; readonly durableOffset: number }
  /** Everything below `offset` is fsynced (LOG-1: acknowledge only below it). */
  | { readonly kind: 'durable'; readonly offset: number }
  | { readonly kind: 'read'; readonly token: number; readonly result: ReadResult }
  | { readonly kind: 'offsetForTimestamp'; readonly token: number; readonly error: LogError; readonly offset: number; readonly timestamp: number }
  | { readonly kind: 'truncated'; readonly logEndOffset: number }
  | { readonly kind: 'retention'; readonly deletedSegments: number; readonly logStartOffset: number }
  | { readonly kind: 'compacted'; readonly segmentBase: number; readonly bytesBefore: number; readonly bytesAfter: number }
  | { readonly kind: 'corruption'; readonly corruption: Corruption }
  | { readonly kind: 'failed'; readonly error: string };

export interface AppendResult {
  readonly error: LogError;
  /** Offsets assigned to the appended batches (inclusive), -1 on error. */
  readonly baseOffset: number;
  readonly lastOffset: number;
}
