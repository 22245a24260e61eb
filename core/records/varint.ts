// Variable-length integers as Kafka's RecordBatch v2 and flexible protocol versions use them
// (ByteUtils in the Java client): zigzag varint (int32), zigzag varlong (int64), unsigned varint.
//
// Decoding reads through a `Cursor` whose first failure is sticky (`err`), so a record decoder
// can read a dozen fields and check once, with no allocation per field.
//   VAR-1  a varint occupies at most 5 bytes, a varlong at most 10; a longer one is OVERLONG.
//   VAR-2  bits beyond 32 (varint) / 64 (varlong) in the last byte are dropped, as Java does,
//          so every byte string Java accepts, we accept with the same value.
//   VAR-3  encode(decode(x)) round-trips for every int32 / int64; sizeOf* equals bytes written.
// Faults survived: truncated input (TRUNCATED), continuation bit on the last allowed byte
// (OVERLONG), a varlong too large for a JS number where one was asked for (UNSAFE_INTEGER).

export type VarintErrorKind = 'TRUNCATED' | 'OVERLONG' | 'UNSAFE_INTEGER';

export interface VarintError {
  readonly kind: VarintErrorKind;
  readonly at: number;
}

/** A read position over `buf[pos, end)`. After a failure, `err` is set, `pos === end`, reads return 0. */
export interface Cursor {
  buf: Uint8Array;
  pos: number;
  end: number;
  err: VarintErrorKind | null;
  errAt: number;
}

export const cursor = (buf: Uint8Array, pos = 0, end = buf.length): Cursor => {
  if (pos < 0 || end > buf.length || pos > end) throw new Error(`cursor: bad range [${pos}, ${end}) of ${buf.length}`);
  return { buf, pos, end, err: null, errAt: -1 };
};

const fail = (c: Cursor, kind: VarintErrorKind, at: number): number => {
  if (c.err === null) {
    c.err = kind;
    c.errAt = at;
  }
  c.pos = c.end;
  return 0;
};

const readRaw32 = (c: Cursor): number => {
  const start = c.pos;
  let raw = 0;
  for (let i = 0, shift = 0; i < 5; i++, shift += 7) {
    if (c.pos >= c.end) return fail(c, 'TRUNCATED', start);
    const b = c.buf[c.pos++];
    raw |= (b & 0x7f) << shift;
    if (b < 0x80) return raw;
  }
  return fail(c, 'OVERLONG', start);
};

/** Zigzag varint (int32). */
export const readVarint = (c: Cursor): number => {
  const raw = readRaw32(c);
  return (raw >>> 1) ^ -(raw & 1);
};

/** Unsigned varint (uint32, as a non-negative number). */
export const readUnsignedVarint = (c: Cursor): number => readRaw32(c) >>> 0;

const TWO_POW_7 = [1, 2 ** 7, 2 ** 14, 2 ** 21, 2 ** 28, 2 ** 35, 2 ** 42];

/**
 * Scans a varlong's bytes. Returns the byte count (1..10) or -1 after failing the cursor.
 * When the count is <= 7 the unsigned value (< 2^49) is exact in `scratch.u`.
 */
const scratch = { u: 0 };
const scanVarlong = (c: Cursor): number => {
  const start = c.pos;
  let u = 0;
  for (let i = 0; i < 10; i++) {
    if (c.pos >= c.end) return fail(c, 'TRUNCATED', start) - 1;
    const b = c.buf[c.pos++];
    if (i < 7) u += (b & 0x7f) * TWO_POW_7[i];
    if (b < 0x80) {
      scratch.u = u;
      return i + 1;
    }
  }
  return fail(c, 'OVERLONG', start) - 1;
};

const slowVarlong = (buf: Uint8Array, start: number, count: number): bigint => {
  let u = 0n;
  for (let i = 0; i < count; i++) u |= BigInt(buf[start + i] & 0x7f) << BigInt(7 * i);
  u = BigInt.asUintN(64, u);
  return BigInt.asIntN(64, (u >> 1n) ^ -(u & 1n));
};

const unzigzagNumber = (u: number): number => (u % 2 === 0 ? u / 2 : -(u + 1) / 2);

/** Zigzag varlong (int64) as a bigint. */
export const readVarlong = (c: Cursor): bigint => {
  const start = c.pos;
  const count = scanVarlong(c);
  if (count < 0) return 0n;
  return count <= 7 ? BigInt(unzigzagNumber(scratch.u)) : slowVarlong(c.buf, start, count);
};

/** Zigzag varlong as a number: the fast path. Fails with UNSAFE_INTEGER beyond +-(2^53 - 1). */
export const readVarlongNumber = (c: Cursor): number => {
  const start = c.pos;
  const count = scanVarlong(c);
  if (count < 0) return 0;
  if (count <= 7) return unzigzagNumber(scratch.u);
  const v = slowVarlong(c.buf, start, count);
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) return fail(c, 'UNSAFE_INTEGER', start);
  return Number(v);
};

// ---- writing: each writer stores at `pos` and returns the position after the value ----

const writeRaw32 = (buf: Uint8Array, pos: number, u: number): number => {
  let v = u >>> 0;
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
};

const assertInt32 = (v: number): void => {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new Error(`not an int32: ${v}`);
};

export const writeVarint = (buf: Uint8Array, pos: number, v: number): number => {
  assertInt32(v);
  return writeRaw32(buf, pos, (v << 1) ^ (v >> 31));
};

export const writeUnsignedVarint = (buf: Uint8Array, pos: number, v: number): number => {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`not a uint32: ${v}`);
  return writeRaw32(buf, pos, v);
};

const FAST_LIMIT = 2 ** 52; // |v| below this zigzags exactly in a double (2|v| < 2^53)

export const writeVarlong = (buf: Uint8Array, pos: number, v: number | bigint): number => {
  if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < FAST_LIMIT) {
    let u = v >= 0 ? v * 2 : -v * 2 - 1;
    while (u >= 0x80) {
      buf[pos++] = (u % 0x80) | 0x80;
      u = Math.floor(u / 0x80);
    }
    buf[pos++] = u;
    return pos;
  }
  const b = BigInt(v);
  if (BigInt.asIntN(64, b) !== b) throw new Error(`not an int64: ${v}`);
  let u = BigInt.asUintN(64, (b << 1n) ^ (b >> 63n));
  while (u >= 0x80n) {
    buf[pos++] = Number(u & 0x7fn) | 0x80;
    u >>= 7n;
  }
  buf[pos++] = Number(u);
  return pos;
};

// ---- sizes ----

const sizeOfRaw32 = (u: number): number => {
  let v = u >>> 0;
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
};

export const sizeOfVarint = (v: number): number => {
  assertInt32(v);
  return sizeOfRaw32((v << 1) ^ (v >> 31));
};

export const sizeOfUnsignedVarint = (v: number): number => {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`not a uint32: ${v}`);
  return sizeOfRaw32(v);
};

export const sizeOfVarlong = (v: number | bigint): number => {
  if (typeof v === 'number' && Number.isInteger(v) && Math.abs(v) < FAST_LIMIT) {
    let u = v >= 0 ? v * 2 : -v * 2 - 1;
    let n = 1;
    while (u >= 0x80) {
      u = Math.floor(u / 0x80);
      n++;
    }
    return n;
  }
  const b = BigInt(v);
  if (BigInt.asIntN(64, b) !== b) throw new Error(`not an int64: ${v}`);
  let u = BigInt.asUintN(64, (b << 1n) ^ (b >> 63n));
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
};

// ---- one-shot decoders (allocate a result; for tests and cold paths) ----

export type Decoded<T> = { readonly value: T; readonly sizeBytes: number } | { readonly error: VarintError };

const once = <T>(buf: Uint8Array, off: number, read: (c: Cursor) => T): Decoded<T> => {
  if (off < 0 || off > buf.length) return { error: { kind: 'TRUNCATED', at: off } };
  const c = cursor(buf, off);
  const value = read(c);
  if (c.err !== null) return { error: { kind: c.err, at: c.errAt } };
  return { value, sizeBytes: c.pos - off };
};

export const decodeVarint = (buf: Uint8Array, off = 0): Decoded<number> => once(buf, off, readVarint);
export const decodeUnsignedVarint = (buf: Uint8Array, off = 0): Decoded<number> => once(buf, off, readUnsignedVarint);
export const decodeVarlong = (buf: Uint8Array, off = 0): Decoded<bigint> => once(buf, off, readVarlong);
export const decodeVarlongNumber = (buf: Uint8Array, off = 0): Decoded<number> => once(buf, off, readVarlongNumber);
