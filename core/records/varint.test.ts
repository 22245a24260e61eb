// VAR-1..3: varint / varlong codecs against Java ByteUtils' byte strings and random values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  cursor,
  decodeUnsignedVarint,
  decodeVarint,
  decodeVarlong,
  decodeVarlongNumber,
  readVarint,
  sizeOfUnsignedVarint,
  sizeOfVarint,
  sizeOfVarlong,
  writeUnsignedVarint,
  writeVarint,
  writeVarlong,
} from './varint.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const enc = (write: (b: Uint8Array, p: number) => number): Uint8Array => {
  const b = new Uint8Array(16);
  return b.subarray(0, write(b, 0));
};

test('zigzag varint matches known encodings', () => {
  const cases: [number, string][] = [
    [0, '00'], [-1, '01'], [1, '02'], [-64, '7f'], [63, '7e'], [64, '8001'], [-65, '8101'],
    [300, 'd804'], [2147483647, 'feffffff0f'], [-2147483648, 'ffffffff0f'],
  ];
  for (const [v, h] of cases) {
    assert.equal(hex(enc((b, p) => writeVarint(b, p, v))), h, `encode ${v}`);
    assert.deepEqual(decodeVarint(bytes(h)), { value: v, sizeBytes: h.length / 2 });
    assert.equal(sizeOfVarint(v), h.length / 2);
  }
});

test('zigzag varlong matches known encodings (number and bigint)', () => {
  const cases: [bigint, string][] = [
    [0n, '00'], [-1n, '01'], [1n, '02'], [1_700_000_000_000n, '80a0abfef962'],
    [9223372036854775807n, 'feffffffffffffffff01'], [-9223372036854775808n, 'ffffffffffffffffff01'],
  ];
  for (const [v, h] of cases) {
    assert.equal(hex(enc((b, p) => writeVarlong(b, p, v))), h, `encode ${v}`);
    if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) {
      assert.equal(hex(enc((b, p) => writeVarlong(b, p, Number(v)))), h, `encode number ${v}`);
      assert.deepEqual(decodeVarlongNumber(bytes(h)), { value: Number(v), sizeBytes: h.length / 2 });
    } else {
      assert.deepEqual(decodeVarlongNumber(bytes(h)), { error: { kind: 'UNSAFE_INTEGER', at: 0 } });
    }
    assert.deepEqual(decodeVarlong(bytes(h)), { value: v, sizeBytes: h.length / 2 });
    assert.equal(sizeOfVarlong(v), h.length / 2);
  }
});

test('truncated and overlong input yields typed errors (VAR-1)', () => {
  assert.deepEqual(decodeVarint(bytes('')), { error: { kind: 'TRUNCATED', at: 0 } });
  assert.deepEqual(decodeVarint(bytes('8080')), { error: { kind: 'TRUNCATED', at: 0 } });
  assert.deepEqual(decodeVarint(bytes('ffffffffff01')), { error: { kind: 'OVERLONG', at: 0 } });
  assert.deepEqual(decodeUnsignedVarint(bytes('8080808080')), { error: { kind: 'OVERLONG', at: 0 } });
  assert.deepEqual(decodeVarlong(bytes('ffffffffffffffffffff01')), { error: { kind: 'OVERLONG', at: 0 } });
  assert.deepEqual(decodeVarlong(bytes('ff')), { error: { kind: 'TRUNCATED', at: 0 } });
  assert.deepEqual(decodeVarint(bytes('0000'), 5), { error: { kind: 'TRUNCATED', at: 5 } });
  // The first failure sticks and stops the cursor.
  const c = cursor(bytes('0280'));
  assert.equal(readVarint(c), 1);
  assert.equal(readVarint(c), 0);
  assert.equal(c.err, 'TRUNCATED');
  assert.equal(c.errAt, 1);
  assert.equal(readVarint(c), 0);
  assert.equal(c.errAt, 1);
});

test('Java-compatible: excess bits in the 5th byte are dropped (VAR-2)', () => {
  // 0x7f in the 5th byte: Java keeps only the low 4 bits.
  assert.deepEqual(decodeVarint(bytes('ffffffff7f')), decodeVarint(bytes('ffffffff0f')));
});

test('int32 round trip and size (VAR-3)', () => {
  fc.assert(
    fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), (v) => {
      const b = enc((buf, p) => writeVarint(buf, p, v));
      assert.equal(b.length, sizeOfVarint(v));
      assert.deepEqual(decodeVarint(b), { value: v, sizeBytes: b.length });
    }),
  );
});

test('uint32 round trip and size (VAR-3)', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
      const b = enc((buf, p) => writeUnsignedVarint(buf, p, v));
      assert.equal(b.length, sizeOfUnsignedVarint(v));
      assert.deepEqual(decodeUnsignedVarint(b), { value: v, sizeBytes: b.length });
    }),
  );
});

test('int64 round trip: bigint and number paths agree (VAR-3)', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => {
      const b = enc((buf, p) => writeVarlong(buf, p, v));
      assert.equal(b.length, sizeOfVarlong(v));
      assert.deepEqual(decodeVarlong(b), { value: v, sizeBytes: b.length });
      if (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) {
        assert.deepEqual(enc((buf, p) => writeVarlong(buf, p, Number(v))), b);
        assert.equal(sizeOfVarlong(Number(v)), b.length);
        assert.deepEqual(decodeVarlongNumber(b), { value: Number(v), sizeBytes: b.length });
      }
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.maxSafeInteger(), (v) => {
      const b = enc((buf, p) => writeVarlong(buf, p, v));
      assert.deepEqual(decodeVarlongNumber(b), { value: v, sizeBytes: b.length });
      assert.deepEqual(decodeVarlong(b), { value: BigInt(v), sizeBytes: b.length });
    }),
  );
});

test('decoders never throw on arbitrary bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), (b) => {
      for (const d of [decodeVarint, decodeUnsignedVarint, decodeVarlong, decodeVarlongNumber]) {
        const r = d(b) as { sizeBytes?: number };
        if (r.sizeBytes !== undefined) assert.ok(r.sizeBytes >= 1 && r.sizeBytes <= b.length);
      }
    }),
  );
});

test('writers reject values outside their range (our bugs, not input)', () => {
  const b = new Uint8Array(16);
  assert.throws(() => writeVarint(b, 0, 2 ** 31));
  assert.throws(() => writeVarint(b, 0, 1.5));
  assert.throws(() => writeUnsignedVarint(b, 0, -1));
  assert.throws(() => writeVarlong(b, 0, 2n ** 63n));
});
