// Byte-level reader and writer for metadata records: the primitives of Kafka's flexible-version
// encoding (unsigned varints, big-endian fixed ints, compact strings and arrays, 16-byte Uuids,
// tagged-field sections). Owned by core/metadata only; the data path has its own codecs.
//
// Invariants:
//  CODEC-1  Writing is deterministic: the same calls produce the same bytes.
//  CODEC-2  A Reader never reads past its view and never allocates more than the bytes it has
//           seen could justify (a declared length or count is checked against what remains
//           before anything is allocated), so hostile input costs O(input) time and memory.
//  CODEC-3  Reader methods signal malformed input by throwing `DecodeError` only; the public
//           decoders catch it at their boundary and return `{ error }`. Nothing else escapes.
// Faults survived: truncated, garbled or adversarial bytes (bit-rot, torn writes, fuzzing).
import { sizeOfUnsignedVarint, writeUnsignedVarint } from '../records/varint.ts';
import { type Uuid, UUID_BYTES, uuidFromBytes, uuidToBytes } from './uuid.ts';

/** Malformed input. Thrown inside a Reader, caught by the decoder that owns it. */
export class DecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DecodeError';
  }
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strings longer than this (in UTF-8 bytes) are refused on both sides. */
export const MAX_STRING_BYTES = 32767;

/** The ranges the Writer accepts; the controller checks wire input with the same predicates. */
const isIntIn = (x: unknown, min: number, max: number): x is number => Number.isInteger(x) && (x as number) >= min && (x as number) <= max;
const isInt8 = (x: unknown): x is number => isIntIn(x, -128, 127);
export const isInt16 = (x: unknown): x is number => isIntIn(x, -32768, 32767);
export const isUint16 = (x: unknown): x is number => isIntIn(x, 0, 0xffff);
export const isInt32 = (x: unknown): x is number => isIntIn(x, -0x80000000, 0x7fffffff);
const isUint32 = (x: unknown): x is number => isIntIn(x, 0, 0xffffffff);
/** A lone UTF-16 surrogate: UTF-8 cannot hold it (TextEncoder writes U+FFFD instead). */
const LONE_SURROGATE = /\p{Surrogate}/u;

/** REC-3: a string the Writer accepts: it encodes as itself (well-formed UTF-16; found in review:
 *  a lone surrogate was silently stored as U+FFFD) and is at most MAX_STRING_BYTES in UTF-8 (<= 3
 *  bytes per UTF-16 unit). */
export const isEncodableString = (x: unknown): x is string =>
  typeof x === 'string' && !LONE_SURROGATE.test(x) && (x.length * 3 <= MAX_STRING_BYTES || utf8Encoder.encode(x).length <= MAX_STRING_BYTES);

export class Writer {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  private len = 0;

  private ensure(extraBytes: number): void {
    if (this.len + extraBytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + extraBytes) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  /** The bytes written so far (a copy, so the writer may be reused or dropped). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  get length(): number {
    return this.len;
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
  }

  uvarint(value: number): void {
    this.ensure(5);
    this.len = writeUnsignedVarint(this.buf, this.len, value);
  }

  int8(value: number): void {
    if (!isInt8(value)) throw new Error(`int8 out of range: ${value}`);
    this.ensure(1);
    this.view.setInt8(this.len, value);
    this.len += 1;
  }

  bool(value: boolean): void {
    this.int8(value ? 1 : 0);
  }

  int16(value: number): void {
    if (!isInt16(value)) throw new Error(`int16 out of range: ${value}`);
    this.ensure(2);
    this.view.setInt16(this.len, value);
    this.len += 2;
  }

  uint16(value: number): void {
    if (!isUint16(value)) throw new Error(`uint16 out of range: ${value}`);
    this.ensure(2);
    this.view.setUint16(this.len, value);
    this.len += 2;
  }

  int32(value: number): void {
    if (!isInt32(value)) throw new Error(`int32 out of range: ${value}`);
    this.ensure(4);
    this.view.setInt32(this.len, value);
    this.len += 4;
  }

  uint32(value: number): void {
    if (!isUint32(value)) throw new Error(`uint32 out of range: ${value}`);
    this.ensure(4);
    this.view.setUint32(this.len, value);
    this.len += 4;
  }

  /** int64 carried as a JS number: only safe integers are representable. */
  int64(value: number): void {
    if (!Number.isSafeInteger(value)) throw new Error(`int64 not a safe integer: ${value}`);
    this.ensure(8);
    this.view.setBigInt64(this.len, BigInt(value));
    this.len += 8;
  }

  uuid(value: Uuid): void {
    this.bytes(uuidToBytes(value));
  }

  compactString(value: string): void {
    const data = utf8Encoder.encode(value);
    if (data.length > MAX_STRING_BYTES) throw new Error(`string too long: ${data.length} bytes`);
    this.uvarint(data.length + 1);
    this.bytes(data);
  }

  compactNullableString(value: string | null): void {
    if (value === null) this.uvarint(0);
    else this.compactString(value);
  }

  compactArray<T>(items: readonly T[], each: (item: T) => void): void {
    this.uvarint(items.length + 1);
    for (const item of items) each(item);
  }

  int32Array(items: readonly number[]): void {
    this.compactArray(items, (x) => this.int32(x));
  }

  /**
   * `uvarint size` then the `size` bytes `write` appends, written in place: one byte is reserved
   * for the size (enough below 128 bytes) and the body is moved up if the size needs more.
   */
  sizePrefixed(write: (w: Writer) => void): void {
    this.ensure(1);
    const at = this.len++;
    write(this);
    const sizeBytes = this.len - at - 1;
    const extra = sizeOfUnsignedVarint(sizeBytes) - 1;
    if (extra > 0) {
      this.ensure(extra);
      this.buf.copyWithin(at + 1 + extra, at + 1, this.len);
      this.len += extra;
    }
    writeUnsignedVarint(this.buf, at, sizeBytes);
  }

  /** A tagged-field section: tags ascending, each as (tag, size, body). */
  taggedFields(fields: readonly { readonly tag: number; readonly write: (w: Writer) => void }[]): void {
    this.uvarint(fields.length);
    let lastTag = -1;
    for (const field of fields) {
      if (field.tag <= lastTag) throw new Error(`tagged fields out of order: ${field.tag} after ${lastTag}`);
      lastTag = field.tag;
      this.uvarint(field.tag);
      this.sizePrefixed(field.write);
    }
  }
}

export class Reader {
  private pos: number;
  private readonly view: DataView;

  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    private readonly end = buf.length,
  ) {
    if (!(start >= 0 && start <= end && end <= buf.length)) throw new Error('Reader: bad bounds');
    this.pos = start;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(sizeBytes: number, what: string): void {
    if (sizeBytes > this.end - this.pos) throw new DecodeError(`truncated ${what} at byte ${this.pos}`);
  }

  bytes(sizeBytes: number): Uint8Array {
    this.need(sizeBytes, 'bytes');
    const out = this.buf.subarray(this.pos, this.pos + sizeBytes);
    this.pos += sizeBytes;
    return out;
  }

  /** A Reader over the next `sizeBytes` (same buffer, no copy); this one skips past them. */
  sub(sizeBytes: number, what: string): Reader {
    this.need(sizeBytes, what);
    const out = new Reader(this.buf, this.pos, this.pos + sizeBytes);
    this.pos += sizeBytes;
    return out;
  }

  uvarint(): number {
    let value = 0;
    for (let i = 0; i < 5; i++) {
      this.need(1, 'varint');
      const b = this.buf[this.pos++];
      value += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (value > 0xffffffff) throw new DecodeError('varint overflows 32 bits');
        if (i > 0 && b === 0) throw new DecodeError('non-minimal varint');
        return value;
      }
    }
    throw new DecodeError('varint longer than 5 bytes');
  }

  int8(): number {
    this.need(1, 'int8');
    return this.view.getInt8(this.pos++);
  }

  bool(): boolean {
    const b = this.int8();
    if (b !== 0 && b !== 1) throw new DecodeError(`bad boolean ${b}`);
    return b === 1;
  }

  int16(): number {
    this.need(2, 'int16');
    const v = this.view.getInt16(this.pos);
    this.pos += 2;
    return v;
  }

  uint16(): number {
    this.need(2, 'uint16');
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    this.need(4, 'int32');
    const v = this.view.getInt32(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    this.need(4, 'uint32');
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  int64(): number {
    this.need(8, 'int64');
    const v = this.view.getBigInt64(this.pos);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new DecodeError(`int64 ${v} is not a safe integer`);
    }
    return Number(v);
  }

  uuid(): Uuid {
    return uuidFromBytes(this.bytes(UUID_BYTES));
  }

  compactNullableString(): string | null {
    const n = this.uvarint();
    if (n === 0) return null;
    const sizeBytes = n - 1;
    if (sizeBytes > MAX_STRING_BYTES) throw new DecodeError(`string too long: ${sizeBytes} bytes`);
    const data = this.bytes(sizeBytes);
    try {
      return utf8Decoder.decode(data);
    } catch {
      throw new DecodeError('invalid UTF-8 in string');
    }
  }

  compactString(): string {
    const s = this.compactNullableString();
    if (s === null) throw new DecodeError('null in a non-nullable string');
    return s;
  }

  /** `minItemBytes` is the smallest encoding of one item: bounds the count before allocating. */
  compactNullableArray<T>(minItemBytes: number, each: () => T): T[] | null {
    const n = this.uvarint();
    if (n === 0) return null;
    const count = n - 1;
    if (count * Math.max(1, minItemBytes) > this.remaining) throw new DecodeError(`array count ${count} exceeds input`);
    const out: T[] = [];
    for (let i = 0; i < count; i++) out.push(each());
    return out;
  }

  compactArray<T>(minItemBytes: number, each: () => T): T[] {
    const items = this.compactNullableArray(minItemBytes, each);
    if (items === null) throw new DecodeError('null in a non-nullable array');
    return items;
  }

  int32Array(): number[] {
    return this.compactArray(4, () => this.int32());
  }

  /**
   * Reads a tagged-field section. `known(tag, body)` parses a tag it knows (it must consume the
   * whole body); unknown tags are skipped, as Kafka does. Tags must be strictly ascending.
   */
  taggedFields(known: (tag: number, body: Reader) => boolean): void {
    const count = this.uvarint();
    if (count * 2 > this.remaining) throw new DecodeError(`tagged field count ${count} exceeds input`);
    let lastTag = -1;
    for (let i = 0; i < count; i++) {
      const tag = this.uvarint();
      if (tag <= lastTag) throw new DecodeError(`tagged field ${tag} out of order`);
      lastTag = tag;
      const body = this.sub(this.uvarint(), 'tagged field');
      if (known(tag, body) && body.remaining !== 0) throw new DecodeError(`tagged field ${tag} has trailing bytes`);
    }
  }
}
