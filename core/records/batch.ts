// RecordBatch v2 encode, decode, per-record visiting, produce-time validation, and walking a
// concatenation of batches. Byte layout: batch-header.ts (header) and record.ts (records).
//
//   RB-2  encodeBatch writes batchLength = size - 12, lastOffsetDelta = last record's
//         offsetDelta, maxTimestamp = baseTimestamp + max timestampDelta (CreateTime), and a CRC
//         that batchCrcValid accepts; decodeBatch(encodeBatch(x)) returns x's records.
//   RB-3  a decoded batch holds exactly recordsCount records filling its record section
//         exactly (Java: "premature EOF" / "records still remaining" otherwise).
//   RB-4  validateBatchForAppend accepts only what a Kafka broker accepts on Produce v3+: one
//         whole magic-2 batch, valid CRC, count > 0, offsets deltas 0..count-1 in order,
//         lastOffsetDelta = count - 1, no control batch from clients, a sequence with a producer id.
//   RB-5  splitBatches never reports a batch that is not wholly inside its input.
// Faults survived: any byte string (truncated, bit-flipped, hostile lengths and counts,
// compression bombs) yields a typed RecordsError; nothing here throws on input bytes.
import {
  ATTRIBUTES_OFFSET,
  BASE_SEQUENCE_OFFSET,
  BASE_TIMESTAMP_OFFSET,
  BATCH_HEADER_SIZE,
  BATCH_LENGTH_OFFSET,
  BATCH_LOG_OVERHEAD,
  CONTROL_MASK,
  CRC_OFFSET,
  LAST_OFFSET_DELTA_OFFSET,
  MAGIC_OFFSET,
  MAGIC_V2,
  MAX_TIMESTAMP_OFFSET,
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  NO_TIMESTAMP,
  PARTITION_LEADER_EPOCH_OFFSET,
  PRODUCER_EPOCH_OFFSET,
  PRODUCER_ID_OFFSET,
  RECORDS_COUNT_OFFSET,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_MASK,
  batchSizeAt,
  magicAt,
  readBatchHeader,
  sealBatchCrc,
  storedCrcAt,
  type BatchHeader,
} from './batch-header.ts';
import { crc32c } from './crc32c.ts';
import {
  COMPRESSION_CODEC_MASK,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  canCompress,
  codecName,
  compress,
  decompress,
  type CompressionCodec,
} from './compression.ts';
import {
  MIN_RECORD_SIZE,
  decodeHeaders,
  encodeHeaderKeys,
  newRecordView,
  readRecord,
  sizeOfRecordBody,
  writeRecord,
  type BatchRecord,
  type RecordHeader,
  type RecordView,
} from './record.ts';
import { recordsError, type RecordsError } from './records-error.ts';
import { cursor, sizeOfVarint } from './varint.ts';

// ---------------------------------------------------------------- encoding

export interface EncodeBatchOptions {
  readonly baseOffset: number | bigint;
  readonly partitionLeaderEpoch: number;
  readonly baseTimestamp: number | bigint;
  readonly producerId?: number | bigint;
  readonly producerEpoch?: number;
  readonly baseSequence?: number;
  readonly isTransactional?: boolean;
  readonly isControl?: boolean;
  readonly compression?: CompressionCodec;
  /** Sets the LogAppendTime bit; maxTimestamp then defaults to baseTimestamp. */
  readonly logAppendTime?: boolean;
  readonly records: readonly BatchRecord[];
  /** Override for batches whose records were removed (compaction keeps the offset range). */
  readonly lastOffsetDelta?: number;
  readonly maxTimestamp?: number | bigint;
}

const assertRecordOrder = (records: readonly BatchRecord[]): void => {
  for (let i = 0; i < records.length; i++) {
    const d = records[i].offsetDelta;
    if (!Number.isInteger(d) || d < 0) throw new Error(`record ${i}: offsetDelta ${d} is not a non-negative integer`);
    if (i > 0 && d <= records[i - 1].offsetDelta) throw new Error(`record ${i}: offsetDelta ${d} not increasing`);
  }
};

const encodeSection = (records: readonly BatchRecord[]): Uint8Array => {
  const keys = records.map(encodeHeaderKeys);
  const bodies = records.map((r, i) => sizeOfRecordBody(r, keys[i]));
  let size = 0;
  for (let i = 0; i < records.length; i++) size += sizeOfVarint(bodies[i]) + bodies[i];
  const out = new Uint8Array(size);
  let pos = 0;
  for (let i = 0; i < records.length; i++) pos = writeRecord(out, pos, records[i], keys[i], bodies[i]);
  if (pos !== size) throw new Error(`section size mismatch ${pos} != ${size}`);
  return out;
};

const computeMaxTimestamp = (o: EncodeBatchOptions): bigint => {
  if (o.maxTimestamp !== undefined) return BigInt(o.maxTimestamp);
  if (o.logAppendTime) return BigInt(o.baseTimestamp);
  if (o.records.length === 0) return BigInt(NO_TIMESTAMP);
  let maxDelta = o.records[0].timestampDelta;
  for (const r of o.records) maxDelta = Math.max(maxDelta, r.timestampDelta);
  return BigInt(o.baseTimestamp) + BigInt(maxDelta);
};

/** Header fields of a batch assembled from already-encoded record bytes. */
export interface AssembleBatchOptions extends Omit<EncodeBatchOptions, 'records' | 'lastOffsetDelta' | 'maxTimestamp'> {
  readonly recordsCount: number;
  readonly lastOffsetDelta: number;
  readonly maxTimestamp: number | bigint;
}

/**
 * Builds a batch around `plainSection`: concatenated encoded records (uncompressed), e.g. the
 * bytes of records a compaction keeps, copied from `RecordView.src[recordStart, +sizeBytes)`.
 * Compresses it with `o.compression` and seals the CRC. The caller vouches for the records.
 */
export const assembleBatch = (o: AssembleBatchOptions, plainSection: Uint8Array): Uint8Array => {
  const codec = o.compression ?? 0;
  if (!canCompress(codec)) throw new Error(`assembleBatch: cannot compress with ${codecName(codec)}`);
  if (!Number.isInteger(o.recordsCount) || o.recordsCount < 0) throw new Error(`bad recordsCount ${o.recordsCount}`);
  if (o.recordsCount > 0 && plainSection.length < o.recordsCount * MIN_RECORD_SIZE) throw new Error('section too small for recordsCount');
  const section = compress(codec, plainSection);
  const out = new Uint8Array(BATCH_HEADER_SIZE + section.length);
  const v = new DataView(out.buffer);
  const attributes =
    codec | (o.logAppendTime ? TIMESTAMP_TYPE_MASK : 0) | (o.isTransactional ? TRANSACTIONAL_MASK : 0) | (o.isControl ? CONTROL_MASK : 0);
  v.setBigInt64(0, BigInt(o.baseOffset));
  v.setInt32(BATCH_LENGTH_OFFSET, out.length - BATCH_LOG_OVERHEAD);
  v.setInt32(PARTITION_LEADER_EPOCH_OFFSET, o.partitionLeaderEpoch);
  v.setInt8(MAGIC_OFFSET, MAGIC_V2);
  v.setInt16(ATTRIBUTES_OFFSET, attributes);
  v.setInt32(LAST_OFFSET_DELTA_OFFSET, o.lastOffsetDelta);
  v.setBigInt64(BASE_TIMESTAMP_OFFSET, BigInt(o.baseTimestamp));
  v.setBigInt64(MAX_TIMESTAMP_OFFSET, BigInt(o.maxTimestamp));
  v.setBigInt64(PRODUCER_ID_OFFSET, BigInt(o.producerId ?? NO_PRODUCER_ID));
  v.setInt16(PRODUCER_EPOCH_OFFSET, o.producerEpoch ?? NO_PRODUCER_EPOCH);
  v.setInt32(BASE_SEQUENCE_OFFSET, o.baseSequence ?? NO_SEQUENCE);
  v.setInt32(RECORDS_COUNT_OFFSET, o.recordsCount);
  out.set(section, BATCH_HEADER_SIZE);
  sealBatchCrc(out, 0);
  return out;
};

/** Encodes one RecordBatch v2 (RB-2). Throws only on caller bugs (bad deltas, unencodable codec). */
export const encodeBatch = (o: EncodeBatchOptions): Uint8Array => {
  assertRecordOrder(o.records);
  const last = o.records.length > 0 ? o.records[o.records.length - 1].offsetDelta : 0;
  return assembleBatch(
    { ...o, recordsCount: o.records.length, lastOffsetDelta: o.lastOffsetDelta ?? last, maxTimestamp: computeMaxTimestamp(o) },
    encodeSection(o.records),
  );
};

// ---------------------------------------------------------------- framing checks

export interface DecodeOptions {
  /** Default true. Turn off only for bytes already CRC-checked (e.g. our own log after recovery). */
  readonly verifyCrc?: boolean;
  /** Bound on a decompressed record section (CMP-1). */
  readonly maxDecompressedBytes?: number;
  /** Default true. false: forEachRecord leaves view.key/value null and allocates nothing per record. */
  readonly views?: boolean;
}

const corrupt = (message: string, at: number): { error: RecordsError } => ({ error: recordsError('CORRUPT_MESSAGE', message, at) });
const invalid = (message: string, at: number): { error: RecordsError } => ({ error: recordsError('INVALID_RECORD', message, at) });

/** Size of the whole, magic-2, CRC-valid batch at `off`, or a CORRUPT_MESSAGE error. */
const checkFrame = (bytes: Uint8Array, off: number, verifyCrc: boolean): { size: number } | { error: RecordsError } => {
  if (!Number.isInteger(off) || off < 0 || off > bytes.length) return corrupt(`batch offset ${off} outside ${bytes.length} bytes`, 0);
  const remaining = bytes.length - off;
  if (remaining < BATCH_HEADER_SIZE) return corrupt(`truncated batch: ${remaining} bytes, header needs ${BATCH_HEADER_SIZE}`, off);
  const size = batchSizeAt(bytes, off);
  if (size < BATCH_HEADER_SIZE) return corrupt(`Record batch is corrupt (the size ${size} is smaller than the minimum allowed overhead ${BATCH_HEADER_SIZE})`, off);
  if (size > remaining) return corrupt(`truncated batch: size ${size}, ${remaining} bytes remain`, off);
  const magic = magicAt(bytes, off);
  if (magic !== MAGIC_V2) return corrupt(`unsupported magic ${magic} (only 2)`, off + MAGIC_OFFSET);
  if (verifyCrc) {
    const stored = storedCrcAt(bytes, off);
    const computed = crc32c(bytes.subarray(off + ATTRIBUTES_OFFSET, off + size));
    if (stored !== computed) return corrupt(`Record is corrupt (stored crc = ${stored}, computed crc = ${computed})`, off + CRC_OFFSET);
  }
  return { size };
};

export interface RecordSection {
  readonly header: BatchHeader;
  readonly sizeBytes: number;
  /** The (decompressed) record bytes: a view of the input when uncompressed. */
  readonly section: Uint8Array;
}

/** Checks the batch frame and returns its header and record section, decompressed. */
export const readRecordSection = (bytes: Uint8Array, off = 0, opts: DecodeOptions = {}): RecordSection | { error: RecordsError } => {
  const frame = checkFrame(bytes, off, opts.verifyCrc ?? true);
  if ('error' in frame) return frame;
  const header = readBatchHeader(bytes, off);
  if (header.recordsCount < 0) return invalid(`Found invalid record count ${header.recordsCount} in magic v2 batch`, off + RECORDS_COUNT_OFFSET);
  const codec = header.attributes & COMPRESSION_CODEC_MASK;
  const raw = bytes.subarray(off + BATCH_HEADER_SIZE, off + frame.size);
  const d = decompress(codec, raw, opts.maxDecompressedBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES);
  if ('error' in d) return { error: { ...d.error, at: off + BATCH_HEADER_SIZE } };
  if (header.recordsCount > d.bytes.length / MIN_RECORD_SIZE) {
    return invalid(`record count ${header.recordsCount} exceeds what ${d.bytes.length} record bytes can hold`, off + RECORDS_COUNT_OFFSET);
  }
  return { header, sizeBytes: frame.size, section: d.bytes };
};

// ---------------------------------------------------------------- visiting

/** Return false to stop early. `view` is reused: copy what must outlive the call. */
export type RecordVisitor = (view: RecordView, index: number) => boolean | void;

const walkSection = (section: Uint8Array, count: number, visit: RecordVisitor, makeViews = true): RecordsError | null => {
  const c = cursor(section);
  const view = newRecordView();
  for (let i = 0; i < count; i++) {
    if (c.pos >= c.end) return recordsError('INVALID_RECORD', 'Incorrect declared batch size, premature EOF reached', c.pos);
    const err = readRecord(c, view, makeViews);
    if (err !== null) return err;
    if (visit(view, i) === false) return null;
  }
  if (c.pos !== c.end) return recordsError('INVALID_RECORD', 'Incorrect declared batch size, records still remaining in file', c.pos);
  return null;
};

/**
 * Visits each record of the batch at `off` without copying key/value bytes (REC-2). Returns the
 * header (or an error). Record-level error offsets are relative to the record section.
 */
export const forEachRecord = (
  bytes: Uint8Array,
  off: number,
  visit: RecordVisitor,
  opts: DecodeOptions = {},
): { header: BatchHeader; sizeBytes: number } | { error: RecordsError } => {
  const s = readRecordSection(bytes, off, opts);
  if ('error' in s) return s;
  const err = walkSection(s.section, s.header.recordsCount, visit, opts.views ?? true);
  return err === null ? { header: s.header, sizeBytes: s.sizeBytes } : { error: err };
};

// ---------------------------------------------------------------- decoding

export interface DecodedRecord {
  readonly offsetDelta: number;
  readonly timestampDelta: number;
  readonly attributes: number;
  /** Absolute offset (baseOffset + offsetDelta) and timestamp (per the batch timestamp type). */
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: readonly RecordHeader[];
}

export interface DecodedBatch {
  readonly header: BatchHeader;
  readonly sizeBytes: number;
  readonly compression: number;
  readonly isTransactional: boolean;
  readonly isControl: boolean;
  readonly logAppendTime: boolean;
  readonly records: readonly DecodedRecord[];
}

/** Absolute timestamp of a record: LogAppendTime batches stamp every record with maxTimestamp. */
export const recordTimestamp = (header: BatchHeader, timestampDelta: number): number =>
  header.attributes & TIMESTAMP_TYPE_MASK ? Number(header.maxTimestamp) : Number(header.baseTimestamp) + timestampDelta;

/** Decodes the whole batch at `off`. key/value/header values are views into the input (or the decompressed section). */
export const decodeBatch = (bytes: Uint8Array, off = 0, opts: DecodeOptions = {}): DecodedBatch | { error: RecordsError } => {
  const s = readRecordSection(bytes, off, opts);
  if ('error' in s) return s;
  const header = s.header;
  const base = Number(header.baseOffset);
  // Offsets are exact numbers here: beyond 2^53 base + delta would round (found in review).
  if (!Number.isSafeInteger(base) || !Number.isSafeInteger(base + header.lastOffsetDelta)) {
    return { error: recordsError('CORRUPT_MESSAGE', `base offset ${header.baseOffset} is beyond 2^53`, off) };
  }
  const records: DecodedRecord[] = [];
  const err = walkSection(s.section, header.recordsCount, (v) => {
    records.push({
      offsetDelta: v.offsetDelta,
      timestampDelta: v.timestampDelta,
      attributes: v.attributes,
      offset: base + v.offsetDelta,
      timestamp: recordTimestamp(header, v.timestampDelta),
      key: v.key,
      value: v.value,
      headers: v.headerCount === 0 ? [] : decodeHeaders(v),
    });
  });
  if (err !== null) return { error: err };
  const a = header.attributes;
  return {
    header,
    sizeBytes: s.sizeBytes,
    compression: a & COMPRESSION_CODEC_MASK,
    isTransactional: (a & TRANSACTIONAL_MASK) !== 0,
    isControl: (a & CONTROL_MASK) !== 0,
    logAppendTime: (a & TIMESTAMP_TYPE_MASK) !== 0,
    records,
  };
};

// ---------------------------------------------------------------- produce-time validation

export interface AppendValidationOptions {
  /** With maxTimestampDiffMs: reject CreateTime records further than that from now (INVALID_TIMESTAMP). */
  readonly nowMs?: number;
  readonly maxTimestampDiffMs?: number;
  /** Control batches come only from the transaction coordinator, never from clients. Default false. */
  readonly allowControl?: boolean;
  /** Compacted topics reject records without a key. Default false. */
  readonly requireKeys?: boolean;
  readonly maxDecompressedBytes?: number;
}

export interface ValidatedBatch {
  readonly header: BatchHeader;
  readonly sizeBytes: number;
  readonly recordsCount: number;
  /** Largest record timestamp (CreateTime), or the header's maxTimestamp (LogAppendTime). */
  readonly maxTimestamp: number;
  /** False when the client's header maxTimestamp disagrees: fix with setMaxTimestamp before appending. */
  readonly maxTimestampMatches: boolean;
}

const checkProduceHeader = (h: BatchHeader, o: AppendValidationOptions): { error: RecordsError } | null => {
  const count = h.recordsCount;
  if (count <= 0) return invalid(`Invalid reported count for record batch: ${count}`, RECORDS_COUNT_OFFSET);
  if (h.lastOffsetDelta + 1 <= 0) return invalid(`Batch has an invalid offset range: lastOffsetDelta ${h.lastOffsetDelta}`, LAST_OFFSET_DELTA_OFFSET);
  if (h.lastOffsetDelta + 1 !== count) return invalid(`Inconsistent batch offset range [0, ${h.lastOffsetDelta}] and count of records ${count}`, LAST_OFFSET_DELTA_OFFSET);
  if (h.attributes & CONTROL_MASK && !o.allowControl) return invalid('Clients are not allowed to write control records', ATTRIBUTES_OFFSET);
  if (h.producerId >= 0n && h.baseSequence < 0) return invalid(`Invalid sequence number ${h.baseSequence} in record batch with producerId ${h.producerId}`, BASE_SEQUENCE_OFFSET);
  if (h.attributes & TRANSACTIONAL_MASK && h.producerId < 0n) return invalid('Transactional record batch without a producer id', PRODUCER_ID_OFFSET);
  return null;
};

/** Validates one produced batch as a broker does before appending it (RB-4). */
export const validateBatchForAppend = (bytes: Uint8Array, opts: AppendValidationOptions = {}): ValidatedBatch | { error: RecordsError } => {
  if (bytes.length < BATCH_LOG_OVERHEAD) return invalid('Produce requests must contain exactly one record batch (none found)', 0);
  const size = batchSizeAt(bytes, 0);
  if (size >= BATCH_HEADER_SIZE && size > bytes.length) return invalid(`Produce request holds a partial batch: size ${size}, ${bytes.length} bytes`, 0);
  if (size >= BATCH_HEADER_SIZE && size < bytes.length) return invalid('Produce requests must contain exactly one record batch', size);
  if (bytes.length >= BATCH_HEADER_SIZE) {
    const magic = magicAt(bytes, 0);
    if (magic !== MAGIC_V2) return invalid(`Produce requests are only allowed to contain record batches with magic version 2, found ${magic}`, MAGIC_OFFSET);
  }
  const s = readRecordSection(bytes, 0, { verifyCrc: true, maxDecompressedBytes: opts.maxDecompressedBytes });
  if ('error' in s) return s;
  const h = s.header;
  const bad = checkProduceHeader(h, opts);
  if (bad !== null) return bad;
  const logAppend = (h.attributes & TIMESTAMP_TYPE_MASK) !== 0;
  const base = Number(h.baseTimestamp);
  let maxTimestamp = Number.NEGATIVE_INFINITY;
  let failure: RecordsError | null = null;
  const err = walkSection(s.section, h.recordsCount, (r, i) => {
    if (r.offsetDelta !== i) {
      failure = recordsError('INVALID_RECORD', `Inner record does not have incremental offsets: offsetDelta ${r.offsetDelta}, expected ${i}`, r.recordStart);
    } else if (opts.requireKeys && r.keyLength < 0) {
      failure = recordsError('INVALID_RECORD', 'Compacted topic cannot accept message without key', r.recordStart);
    } else if (!logAppend) {
      const ts = base + r.timestampDelta;
      maxTimestamp = Math.max(maxTimestamp, ts);
      const limit = opts.maxTimestampDiffMs;
      // As Kafka's LogValidator: a record without a timestamp (NO_TIMESTAMP) is not range-checked.
      if (ts !== NO_TIMESTAMP && opts.nowMs !== undefined && limit !== undefined && Math.abs(ts - opts.nowMs) > limit) {
        failure = recordsError('INVALID_TIMESTAMP', `Timestamp ${ts} of record ${i} is out of range (now ${opts.nowMs}, max diff ${limit} ms)`, r.recordStart);
      }
    }
    return failure === null;
  });
  if (err !== null) return { error: err };
  if (failure !== null) return { error: failure };
  const headerMax = Number(h.maxTimestamp);
  const computed = logAppend ? headerMax : maxTimestamp;
  return { header: h, sizeBytes: s.sizeBytes, recordsCount: h.recordsCount, maxTimestamp: computed, maxTimestampMatches: computed === headerMax };
};

// ---------------------------------------------------------------- walking concatenated batches

export interface BatchSpan {
  readonly off: number;
  readonly sizeBytes: number;
}

export interface SplitResult {
  readonly batches: readonly BatchSpan[];
  /** First byte not inside a whole batch: bytes.length unless a partial batch or an error stopped the walk. */
  readonly endOffset: number;
  /** Set when a batch frame is corrupt (size < 61, wrong magic, or CRC with verifyCrc). */
  readonly error: RecordsError | null;
}

/**
 * Walks whole batches from `off` (RB-5), stopping quietly at a partial trailing batch (as a
 * fetch response or a torn log tail ends) and with an error at a corrupt frame. Bounded: each
 * step advances by at least 61 bytes.
 */
export const splitBatches = (bytes: Uint8Array, off = 0, opts: { readonly verifyCrc?: boolean } = {}): SplitResult => {
  const batches: BatchSpan[] = [];
  let pos = off;
  while (bytes.length - pos >= BATCH_LOG_OVERHEAD) {
    const size = batchSizeAt(bytes, pos);
    if (size < BATCH_HEADER_SIZE) return { batches, endOffset: pos, error: corrupt(`Record batch is corrupt (the size ${size} is smaller than the minimum allowed overhead ${BATCH_HEADER_SIZE})`, pos).error };
    if (size > bytes.length - pos) break;
    const frame = checkFrame(bytes, pos, opts.verifyCrc ?? false);
    if ('error' in frame) return { batches, endOffset: pos, error: frame.error };
    batches.push({ off: pos, sizeBytes: size });
    pos += size;
  }
  return { batches, endOffset: pos, error: null };
};
