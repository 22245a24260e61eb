// CRC-32C (Castagnoli), as RecordBatch v2 uses it. The fast path is @node-rs/crc32 (a native,
// SIMD implementation, ~3.6 GB/s here); `crc32cPure` is a table-driven fallback that property
// tests hold equal to it. Both are pure functions of their input bytes.
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of `data` (optionally continuing from `initial`), table-driven, no native code. */
export const crc32cPure = (data: Uint8Array, initial = 0): number => {
  let c = ~initial >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
};

/** CRC-32C of `data` (optionally continuing from `initial`). */
export const crc32c = (data: Uint8Array, initial = 0): number => nativeCrc32c(data, initial) >>> 0;
