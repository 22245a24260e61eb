// The one error type of core/records: what a broker answers when bytes from a client, a peer or
// a disk are not a valid RecordBatch v2. Codes are Kafka's wire error codes, so a handler can put
// `code` straight into a response. Decoders return these; they never throw on hostile bytes.
//
// Mapping follows Kafka: batch-level damage (sizes, CRC, magic, decompression) is
// CORRUPT_MESSAGE; record-level structure (varints, record lengths, counts, offsets deltas) is
// INVALID_RECORD (DefaultRecord.readFrom wraps underflow as InvalidRecordException).
import { ErrorCode as KafkaErrorCode } from '../errors.ts';

/** The codes a RecordsError can carry: a subset of core/errors.ts's one table. */
export const ErrorCode = {
  CORRUPT_MESSAGE: KafkaErrorCode.CORRUPT_MESSAGE,
  INVALID_TIMESTAMP: KafkaErrorCode.INVALID_TIMESTAMP,
  UNSUPPORTED_COMPRESSION_TYPE: KafkaErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
  INVALID_RECORD: KafkaErrorCode.INVALID_RECORD,
} as const;

export type RecordsErrorKind = keyof typeof ErrorCode;
export type RecordsErrorCode = (typeof ErrorCode)[RecordsErrorKind];

export interface RecordsError {
  readonly kind: RecordsErrorKind;
  readonly code: RecordsErrorCode;
  readonly message: string;
  /** Byte offset (in the buffer the decoder was given, or in the record section) where it failed. */
  readonly at: number;
}

export const recordsError = (kind: RecordsErrorKind, message: string, at = 0): RecordsError => ({
  kind,
  code: ErrorCode[kind],
  message,
  at,
});
