// The fixed 61-byte header of a Kafka RecordBatch (magic 2), read and stamped in place.
//
//   offset  size  field
//        0     8  baseOffset
//        8     4  batchLength          (bytes after this field; whole batch = 12 + batchLength)
//       12     4  partitionLeaderEpoch
//       16     1  magic                (2)
//       17     4  crc                  (CRC-32C over bytes 21 .. end, unsigned)
//       21     2  attributes           (bits 0-2 compression, 3 timestamp type, 4 transactional, 5 control)
//       23     4  lastOffsetDelta
//       27     8  baseTimestamp
//       35     8  maxTimestamp
//       43     8  producerId
//       51     2  producerEpoch
//       53     4  baseSequence
//       57     4  recordsCount
//       61        records...
//
// baseOffset and partitionLeaderEpoch lie outside the CRC, so a broker stamps them without
// recomputing it (RB-1 in proofs-notes/log.md). Multi-byte fields are big-endian.
import { crc32c } from './crc32c.ts';

export const BATCH_HEADER_SIZE = 61;
/** Bytes before the batchLength-counted part: baseOffset (8) + batchLength (4). */
export const BATCH_LOG_OVERHEAD = 12;
/** Field offsets within the header (see the table above); baseOffset is at 0. */
export const BATCH_LENGTH_OFFSET = 8;
export const PARTITION_LEADER_EPOCH_OFFSET = 12;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const LAST_OFFSET_DELTA_OFFSET = 23;
export const BASE_TIMESTAMP_OFFSET = 27;
export const MAX_TIMESTAMP_OFFSET = 35;
export const PRODUCER_ID_OFFSET = 43;
export const PRODUCER_EPOCH_OFFSET = 51;
export const BASE_SEQUENCE_OFFSET = 53;
export const RECORDS_COUNT_OFFSET = 57;
export const MAGIC_V2 = 2;

/** Attribute bits (bits 0-2 are the compression codec, see compression.ts). */
export const TIMESTAMP_TYPE_MASK = 0x08; // set: LogAppendTime, clear: CreateTime
export const TRANSACTIONAL_MASK = 0x10;
export const CONTROL_MASK = 0x20;
export const DELETE_HORIZON_MASK = 0x40; // KIP-534: baseTimestamp is the compaction delete horizon
/** RecordBatch.NO_TIMESTAMP, NO_PRODUCER_ID, NO_PRODUCER_EPOCH, NO_SEQUENCE. */
export const NO_TIMESTAMP = -1;
export const NO_PRODUCER_ID = -1;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;

export interface BatchHeader {
  readonly baseOffset: bigint;
  readonly batchLength: number;
  readonly partitionLeaderEpoch: number;
  readonly magic: number;
  readonly crc: number;
  readonly attributes: number;
  readonly lastOffsetDelta: number;
  readonly baseTimestamp: bigint;
  readonly maxTimestamp: bigint;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly recordsCount: number;
}

const view = (buf: Uint8Array): DataView => new DataView(buf.buffer, buf.byteOffset, buf.byteLength);

// Allocation-free big-endian readers for the data path (no DataView, no BigInt). Each checks its
// bounds and throws RangeError as DataView would, so a caller's bug never reads `undefined` as 0.
const need = (buf: Uint8Array, at: number, bytes: number): void => {
  if (!(at >= 0 && at + bytes <= buf.length)) throw new RangeError('batch header: read out of bounds');
};
const int32At = (buf: Uint8Array, at: number): number => {
  need(buf, at, 4);
  return (buf[at]! << 24) | (buf[at + 1]! << 16) | (buf[at + 2]! << 8) | buf[at + 3]!;
};
/**
 * An int64 as a JS number: hi * 2^32 + lo. Exact below 2^53 in magnitude; beyond that the one
 * rounding of the sum matches Number(bigint) (hi * 2^32 and lo are both exact doubles).
 */
const int64At = (buf: Uint8Array, at: number): number => {
  need(buf, at, 8);
  return int32At(buf, at) * 4294967296 + (int32At(buf, at + 4) >>> 0);
};
const setInt32At = (buf: Uint8Array, at: number, value: number): void => {
  need(buf, at, 4);
  buf[at] = value >>> 24;
  buf[at + 1] = value >>> 16;
  buf[at + 2] = value >>> 8;
  buf[at + 3] = value;
};

/** Total size in bytes of the batch starting at `off`, or -1 if fewer than 12 bytes remain. */
export const batchSizeAt = (buf: Uint8Array, off: number): number => {
  if (buf.length - off < BATCH_LOG_OVERHEAD) return -1;
  return BATCH_LOG_OVERHEAD + int32At(buf, off + BATCH_LENGTH_OFFSET);
};

/** Reads the header at `off`. The caller checks `buf.length - off >= BATCH_HEADER_SIZE` first. */
export const readBatchHeader = (buf: Uint8Array, off = 0): BatchHeader => {
  const v = view(buf);
  return {
    baseOffset: v.getBigInt64(off),
    batchLength: v.getInt32(off + BATCH_LENGTH_OFFSET),
    partitionLeaderEpoch: v.getInt32(off + PARTITION_LEADER_EPOCH_OFFSET),
    magic: v.getInt8(off + MAGIC_OFFSET),
    crc: v.getUint32(off + CRC_OFFSET),
    attributes: v.getInt16(off + ATTRIBUTES_OFFSET),
    lastOffsetDelta: v.getInt32(off + LAST_OFFSET_DELTA_OFFSET),
    baseTimestamp: v.getBigInt64(off + BASE_TIMESTAMP_OFFSET),
    maxTimestamp: v.getBigInt64(off + MAX_TIMESTAMP_OFFSET),
    producerId: v.getBigInt64(off + PRODUCER_ID_OFFSET),
    producerEpoch: v.getInt16(off + PRODUCER_EPOCH_OFFSET),
    baseSequence: v.getInt32(off + BASE_SEQUENCE_OFFSET),
    recordsCount: v.getInt32(off + RECORDS_COUNT_OFFSET),
  };
};

/** Cheap field readers for the data path (no object allocation). Offsets are JS numbers (< 2^53). */
export const baseOffsetAt = (buf: Uint8Array, off: number): number => int64At(buf, off);
export const lastOffsetDeltaAt = (buf: Uint8Array, off: number): number => int32At(buf, off + LAST_OFFSET_DELTA_OFFSET);
export const maxTimestampAt = (buf: Uint8Array, off: number): number => int64At(buf, off + MAX_TIMESTAMP_OFFSET);
export const leaderEpochAt = (buf: Uint8Array, off: number): number => int32At(buf, off + PARTITION_LEADER_EPOCH_OFFSET);
export const magicAt = (buf: Uint8Array, off: number): number => {
  need(buf, off + MAGIC_OFFSET, 1);
  return (buf[off + MAGIC_OFFSET]! << 24) >> 24;
};
/** The CRC stored in the header (unsigned). */
export const storedCrcAt = (buf: Uint8Array, off: number): number => int32At(buf, off + CRC_OFFSET) >>> 0;
export const attributesAt = (buf: Uint8Array, off: number): number => {
  need(buf, off + ATTRIBUTES_OFFSET, 2);
  return ((buf[off + ATTRIBUTES_OFFSET]! << 24) | (buf[off + ATTRIBUTES_OFFSET + 1]! << 16)) >> 16;
};

/** True when the batch at `off` is whole, magic 2, and its CRC matches its bytes. */
export const batchCrcValid = (buf: Uint8Array, off: number): boolean => {
  const size = batchSizeAt(buf, off);
  if (size < BATCH_HEADER_SIZE || off + size > buf.length) return false;
  if (magicAt(buf, off) !== MAGIC_V2) return false;
  return crc32c(buf.subarray(off + ATTRIBUTES_OFFSET, off + size)) === storedCrcAt(buf, off);
};

/** Writes baseOffset and partitionLeaderEpoch in place; the CRC stays valid (neither is covered). */
export const stampBatch = (buf: Uint8Array, off: number, baseOffset: number, leaderEpoch: number): void => {
  if (!Number.isSafeInteger(baseOffset)) throw new RangeError(`stampBatch: baseOffset ${baseOffset} is not a safe integer`);
  const hi = Math.floor(baseOffset / 4294967296);
  setInt32At(buf, off, hi);
  setInt32At(buf, off + 4, baseOffset - hi * 4294967296);
  setInt32At(buf, off + PARTITION_LEADER_EPOCH_OFFSET, leaderEpoch);
};

/** Recomputes and stores the CRC of the batch at `off` (for encoders). */
export const sealBatchCrc = (buf: Uint8Array, off: number): void => {
  const size = batchSizeAt(buf, off);
  view(buf).setUint32(off + CRC_OFFSET, crc32c(buf.subarray(off + ATTRIBUTES_OFFSET, off + size)));
};

/** Rewrites maxTimestamp (as a broker does when a client's is wrong) and reseals the CRC. */
export const setMaxTimestamp = (buf: Uint8Array, off: number, maxTimestamp: number | bigint): void => {
  view(buf).setBigInt64(off + MAX_TIMESTAMP_OFFSET, BigInt(maxTimestamp));
  sealBatchCrc(buf, off);
};
