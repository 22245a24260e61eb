// The one error type of core/records: what a broker answers when bytes from a client, a peer or
// a disk are not a valid RecordBatch v2. Codes are Kafka's wire error codes, so a handler can put
// `code` straight into a response. Decoders return these; they never throw on hostile bytes.
//
// Mapping follows Kafka: batch-level damage (sizes, CRC, magic, decompression) is
// CORRUPT_MESSAGE; record-level structure (varints, record lengths, counts, offsets deltas) is
// INVALID_RECORD (DefaultRecord.readFrom wraps underflow as InvalidRecordException).

export const ErrorCode = {
  CORRUPT_MESSAGE: 2,
  INVALID_TIMESTAMP: 32,
  UNSUPPORTED_COMPRESSION_TYPE: 76,
  INVALID_RECORD: 87,
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
