// One record inside a RecordBatch v2 (Kafka's DefaultRecord):
//
//   length          varint   bytes after this field
//   attributes      int8     unused (0)
//   timestampDelta  varlong  timestamp - batch.baseTimestamp
//   offsetDelta     varint   offset - batch.baseOffset
//   keyLength       varint   -1 (any negative) = null key
//   key             bytes
//   valueLength     varint   -1 (any negative) = null value (a tombstone)
//   value           bytes
//   headersCount    varint
//   headers         [keyLength varint, key utf-8, valueLength varint (-1 null), value]
//
//   REC-1  a record ends exactly `length` bytes after its length field; a record that reads
//          fewer or more bytes, or runs past its section, is INVALID_RECORD (as in Java).
//   REC-2  decoding never copies key/value bytes: they are subarray views of the section.
//   REC-3  sizeOfRecord(r) equals the bytes writeRecord(r) writes.
// Faults survived: truncated and overlong varints, negative or oversized lengths, negative
// header counts or header key sizes, header counts larger than the bytes could hold.
import { recordsError, type RecordsError } from './records-error.ts';
import {
  cursor,
  readVarint,
  readVarlongNumber,
  sizeOfVarint,
  sizeOfVarlong,
  writeVarint,
  writeVarlong,
  type Cursor,
} from './varint.ts';

export interface RecordHeader {
  readonly key: string;
  readonly value: Uint8Array | null;
}

/** A record as an encoder takes it. */
export interface BatchRecord {
  readonly offsetDelta: number;
  readonly timestampDelta: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers?: readonly RecordHeader[];
  /** Record attributes byte; Kafka defines none, so 0. */
  readonly attributes?: number;
}

/** Smallest possible record: 7 one-byte fields. Bounds record-count claims. */
export const MIN_RECORD_SIZE = 7;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');

const sizeOfBytes = (b: Uint8Array | null): number => (b === null ? 1 : sizeOfVarint(b.length) + b.length);

/** Header keys encoded once, reused between sizing and writing. */
export type EncodedHeaderKeys = readonly Uint8Array[];

const NO_KEYS: EncodedHeaderKeys = [];
export const encodeHeaderKeys = (r: BatchRecord): EncodedHeaderKeys =>
  r.headers === undefined || r.headers.length === 0 ? NO_KEYS : r.headers.map((h) => utf8Encoder.encode(h.key));

/** Size of a record after its length prefix. */
export const sizeOfRecordBody = (r: BatchRecord, keys: EncodedHeaderKeys = encodeHeaderKeys(r)): number => {
  const headers = r.headers ?? [];
  let size = 1 + sizeOfVarlong(r.timestampDelta) + sizeOfVarint(r.offsetDelta) + sizeOfBytes(r.key) + sizeOfBytes(r.value);
  size += sizeOfVarint(headers.length);
  for (let i = 0; i < headers.length; i++) size += sizeOfBytes(keys[i]) + sizeOfBytes(headers[i].value);
  return size;
};

/** Total encoded size of `r`, including its length prefix (REC-3). */
export const sizeOfRecord = (r: BatchRecord, keys: EncodedHeaderKeys = encodeHeaderKeys(r)): number => {
  const body = sizeOfRecordBody(r, keys);
  return sizeOfVarint(body) + body;
};

const writeBytes = (buf: Uint8Array, pos: number, b: Uint8Array | null): number => {
  if (b === null) return writeVarint(buf, pos, -1);
  pos = writeVarint(buf, pos, b.length);
  buf.set(b, pos);
  return pos + b.length;
};

/** Writes `r` at `pos`; returns the position after it. `buf` must have room (sizeOfRecord). */
export const writeRecord = (
  buf: Uint8Array,
  pos: number,
  r: BatchRecord,
  keys: EncodedHeaderKeys = encodeHeaderKeys(r),
  body: number = sizeOfRecordBody(r, keys),
): number => {
  const attributes = r.attributes ?? 0;
  if (!Number.isInteger(attributes) || attributes < -128 || attributes > 127) throw new Error(`record attributes not int8: ${attributes}`);
  const headers = r.headers ?? [];
  const start = pos;
  pos = writeVarint(buf, pos, body);
  const bodyStart = pos;
  buf[pos++] = attributes & 0xff;
  pos = writeVarlong(buf, pos, r.timestampDelta);
  pos = writeVarint(buf, pos, r.offsetDelta);
  pos = writeBytes(buf, pos, r.key);
  pos = writeBytes(buf, pos, r.value);
  pos = writeVarint(buf, pos, headers.length);
  for (let i = 0; i < headers.length; i++) {
    pos = writeBytes(buf, pos, keys[i]);
    pos = writeBytes(buf, pos, headers[i].value);
  }
  if (pos - bodyStart !== body) throw new Error(`record size mismatch: wrote ${pos - bodyStart}, sized ${body} (REC-3)`);
  if (pos <= start) throw new Error('record wrote nothing');
  return pos;
};

/**
 * A decoded record, reused by visitors: valid only during the visit. `key`/`value` are views
 * into `src` (REC-2); `keyStart`/`keyLength` give the same without the view (-1 length = null).
 * Headers stay undecoded in `src[headersStart, headersEnd)`; `decodeHeaders` materialises them.
 */
export interface RecordView {
  src: Uint8Array;
  recordStart: number;
  bodyStart: number;
  sizeBytes: number;
  attributes: number;
  timestampDelta: number;
  offsetDelta: number;
  keyStart: number;
  keyLength: number;
  valueStart: number;
  valueLength: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headerCount: number;
  headersStart: number;
  headersEnd: number;
}

export const newRecordView = (): RecordView => ({
  src: new Uint8Array(0),
  recordStart: 0,
  bodyStart: 0,
  sizeBytes: 0,
  attributes: 0,
  timestampDelta: 0,
  offsetDelta: 0,
  keyStart: 0,
  keyLength: -1,
  valueStart: 0,
  valueLength: -1,
  key: null,
  value: null,
  headerCount: 0,
  headersStart: 0,
  headersEnd: 0,
});

const invalid = (message: string, at: number): RecordsError => recordsError('INVALID_RECORD', message, at);

const varintFailure = (c: Cursor, what: string): RecordsError =>
  invalid(`Found invalid record structure: ${what} varint ${c.err?.toLowerCase() ?? 'bad'} at ${c.errAt}`, c.errAt);

/** Reads a length-prefixed byte field; returns its length (-1 null) and leaves start in c.pos - length. */
const readLength = (c: Cursor, what: string): number | RecordsError => {
  const at = c.pos;
  const len = readVarint(c);
  if (c.err !== null) return varintFailure(c, what);
  if (len < 0) return -1;
  if (len > c.end - c.pos) return invalid(`${what} length ${len} runs past the record`, at);
  c.pos += len;
  return len;
};

const skipHeaders = (c: Cursor, count: number): RecordsError | null => {
  for (let i = 0; i < count; i++) {
    const at = c.pos;
    const keyLen = readVarint(c);
    if (c.err !== null) return varintFailure(c, 'header key length');
    if (keyLen < 0) return invalid(`Invalid negative header key size ${keyLen}`, at);
    if (keyLen > c.end - c.pos) return invalid(`header key length ${keyLen} runs past the record`, at);
    c.pos += keyLen;
    const v = readLength(c, 'header value');
    if (typeof v !== 'number') return v;
  }
  return null;
};

/** Reads the body `[c.pos, c.end)` of one record into `view`; c.end is the body's end. */
const readBody = (r: Cursor, view: RecordView, makeViews: boolean): RecordsError | null => {
  const recordStart = view.recordStart;
  if (r.pos >= r.end) return invalid('Found invalid record structure: empty record body', recordStart);
  view.attributes = (r.buf[r.pos++] << 24) >> 24;
  view.timestampDelta = readVarlongNumber(r);
  view.offsetDelta = readVarint(r);
  if (r.err !== null) return varintFailure(r, 'timestamp/offset delta');
  const keyLength = readLength(r, 'key');
  if (typeof keyLength !== 'number') return keyLength;
  view.keyLength = keyLength;
  view.keyStart = keyLength < 0 ? r.pos : r.pos - keyLength;
  const valueLength = readLength(r, 'value');
  if (typeof valueLength !== 'number') return valueLength;
  view.valueLength = valueLength;
  view.valueStart = valueLength < 0 ? r.pos : r.pos - valueLength;
  const countAt = r.pos;
  const headerCount = readVarint(r);
  if (r.err !== null) return varintFailure(r, 'header count');
  if (headerCount < 0) return invalid(`Found invalid number of record headers ${headerCount}`, countAt);
  if (headerCount > (r.end - r.pos) / 2) return invalid(`header count ${headerCount} exceeds what ${r.end - r.pos} bytes can hold`, countAt);
  view.headersStart = r.pos;
  const headerError = skipHeaders(r, headerCount);
  if (headerError !== null) return headerError;
  if (r.pos !== r.end) {
    return invalid(`Invalid record size: expected to read ${r.end - view.bodyStart} bytes in record payload, but instead read ${r.pos - view.bodyStart}`, recordStart);
  }
  view.headersEnd = r.pos;
  view.headerCount = headerCount;
  view.key = !makeViews || keyLength < 0 ? null : r.buf.subarray(view.keyStart, view.keyStart + keyLength);
  view.value = !makeViews || valueLength < 0 ? null : r.buf.subarray(view.valueStart, view.valueStart + valueLength);
  return null;
};

/**
 * Reads the record at `c.pos` (bounded by `c.end`) into `view`, advancing `c.pos` past it.
 * Returns null on success or an INVALID_RECORD error (REC-1); never throws on bad bytes.
 * No allocation unless `makeViews` (default true) asks for key/value subarrays; without them
 * use keyStart/keyLength and valueStart/valueLength (length -1 = null) over `view.src`.
 */
export const readRecord = (c: Cursor, view: RecordView, makeViews = true): RecordsError | null => {
  const recordStart = c.pos;
  const body = readVarint(c);
  if (c.err !== null) return varintFailure(c, 'record length');
  if (body < 0 || body > c.end - c.pos) {
    return invalid(`Invalid record size: expected to read ${body} bytes in record payload, but only ${c.end - c.pos} bytes remain`, recordStart);
  }
  const outerEnd = c.end;
  const bodyEnd = c.pos + body;
  view.src = c.buf;
  view.recordStart = recordStart;
  view.bodyStart = c.pos;
  view.sizeBytes = bodyEnd - recordStart;
  c.end = bodyEnd; // the body is read through the same cursor, narrowed: no per-record cursor
  const err = readBody(c, view, makeViews);
  c.end = outerEnd;
  if (err !== null) {
    c.pos = outerEnd;
    if (c.err === null) {
      c.err = 'TRUNCATED'; // stop the walk; the RecordsError carries the real reason
      c.errAt = err.at;
    }
    return err;
  }
  if (c.pos !== bodyEnd) throw new Error('readRecord: cursor not at the record end (REC-1)');
  return null;
};

/** Materialises the headers of a record `readRecord` has already validated. Values are views. */
export const decodeHeaders = (view: RecordView): RecordHeader[] => {
  const c = cursor(view.src, view.headersStart, view.headersEnd);
  const out: RecordHeader[] = [];
  for (let i = 0; i < view.headerCount; i++) {
    const keyLen = readVarint(c);
    const key = utf8Decoder.decode(c.buf.subarray(c.pos, c.pos + keyLen));
    c.pos += keyLen;
    const valueLen = readVarint(c);
    const value = valueLen < 0 ? null : c.buf.subarray(c.pos, c.pos + valueLen);
    if (valueLen > 0) c.pos += valueLen;
    out.push({ key, value });
  }
  if (c.err !== null || c.pos !== view.headersEnd) throw new Error('decodeHeaders on a record readRecord did not validate');
  return out;
};
