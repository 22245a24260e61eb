// The allocation-free header readers agree with DataView/BigInt on every value, and stampBatch
// writes exactly what setBigInt64 would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { attributesAt, baseOffsetAt, batchSizeAt, lastOffsetDeltaAt, leaderEpochAt, maxTimestampAt, stampBatch } from './batch-header.ts';

const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

test('field readers match DataView on random bytes (any offset, any sign)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 64, maxLength: 80 }), fc.nat(16), (bytes, shift) => {
      const off = Math.min(shift, bytes.length - 61);
      const v = dv(bytes);
      assert.equal(baseOffsetAt(bytes, off), Number(v.getBigInt64(off)));
      assert.equal(maxTimestampAt(bytes, off), Number(v.getBigInt64(off + 35)));
      assert.equal(lastOffsetDeltaAt(bytes, off), v.getInt32(off + 23));
      assert.equal(leaderEpochAt(bytes, off), v.getInt32(off + 12));
      assert.equal(attributesAt(bytes, off), v.getInt16(off + 21));
      assert.equal(batchSizeAt(bytes, off), 12 + v.getInt32(off + 8));
    }),
    { numRuns: 2000 },
  );
});

test('stampBatch writes the int64 base offset and epoch as DataView would', () => {
  fc.assert(
    fc.property(fc.maxSafeInteger(), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.nat(7), (base, epoch, off) => {
      const a = new Uint8Array(80).fill(0xee);
      const b = a.slice();
      stampBatch(a, off, base, epoch);
      dv(b).setBigInt64(off, BigInt(base));
      dv(b).setInt32(off + 12, epoch);
      assert.deepEqual(a, b);
      assert.equal(baseOffsetAt(a, off), base);
    }),
    { numRuns: 2000 },
  );
  assert.throws(() => stampBatch(new Uint8Array(61), 0, 2 ** 53, 0), RangeError);
});

test('readers throw RangeError out of bounds', () => {
  assert.throws(() => baseOffsetAt(new Uint8Array(7), 0), RangeError);
  assert.throws(() => lastOffsetDeltaAt(new Uint8Array(26), 0), RangeError);
  assert.equal(batchSizeAt(new Uint8Array(11), 0), -1);
});
