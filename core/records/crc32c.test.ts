// The native CRC-32C and the pure table-driven one agree on every input, including chaining.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32c, crc32cPure } from './crc32c.ts';

test('known CRC-32C vectors', () => {
  const ascii = new TextEncoder().encode('123456789');
  assert.equal(crc32c(ascii), 0xe3069283);
  assert.equal(crc32cPure(ascii), 0xe3069283);
  assert.equal(crc32c(new Uint8Array(0)), 0);
  assert.equal(crc32cPure(new Uint8Array(0)), 0);
  assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 B.4: 32 bytes of zeros
  assert.equal(crc32cPure(new Uint8Array(32).fill(0xff)), 0x62a8ab43); // RFC 3720 B.4: 32 bytes of 0xff
});

test('crc32cPure agrees with crc32c', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2048 }), (data) => {
      assert.equal(crc32cPure(data), crc32c(data));
    }),
    { numRuns: 500 },
  );
});

test('chaining with `initial` equals one pass, in both implementations', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), fc.uint8Array({ maxLength: 512 }), (a, b) => {
      const whole = new Uint8Array(a.length + b.length);
      whole.set(a);
      whole.set(b, a.length);
      const expected = crc32c(whole);
      assert.equal(crc32c(b, crc32c(a)), expected);
      assert.equal(crc32cPure(b, crc32cPure(a)), expected);
      assert.equal(crc32cPure(b, crc32c(a)), expected);
      assert.equal(crc32c(new Uint8Array(0), crc32c(a)), crc32c(a));
    }),
    { numRuns: 300 },
  );
});

test('arbitrary `initial` values agree', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 256 }), fc.integer({ min: 0, max: 0xffffffff }), (data, initial) => {
      assert.equal(crc32cPure(data, initial), crc32c(data, initial));
    }),
  );
});

test('large inputs (1 MiB, subarray views at odd offsets) agree', () => {
  const big = new Uint8Array(1 << 20);
  let x = 12345;
  for (let i = 0; i < big.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    big[i] = x >>> 24;
  }
  assert.equal(crc32cPure(big), crc32c(big));
  const view = big.subarray(3, big.length - 5);
  assert.equal(crc32cPure(view), crc32c(view));
});
