// RB-2..5, REC-1..3, CMP-1..2: RecordBatch v2 encode/decode, validation and hostile input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compress as snappyRaw } from 'snappyjs';
import { gzipSync } from 'fflate';
import { batchCrcValid, sealBatchCrc, setMaxTimestamp, stampBatch, BATCH_HEADER_SIZE } from './batch-header.ts';
import {
  assembleBatch,
  decodeBatch,
  encodeBatch,
  forEachRecord,
  splitBatches,
  validateBatchForAppend,
  type DecodedBatch,
  type EncodeBatchOptions,
} from './batch.ts';
import { Compression, compress, decompress, type Decompressed } from './compression.ts';
import type { BatchRecord } from './record.ts';
import type { RecordsError } from './records-error.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const fromHex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

const ok = (r: DecodedBatch | { error: RecordsError }): DecodedBatch => {
  if ('error' in r) assert.fail(`unexpected error: ${JSON.stringify(r.error)}`);
  return r;
};
/** The bytes of a successful decompress, as a plain Uint8Array (a codec may hand back a Buffer). */
const bytesOf = (r: Decompressed): Uint8Array => {
  if ('error' in r) assert.fail(`unexpected error: ${r.error.message}`);
  return new Uint8Array(r.bytes);
};
const errorOf = (r: object): RecordsError => {
  assert.ok('error' in r, `expected an error, got ${JSON.stringify(r, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
  return (r as { error: RecordsError }).error;
};

// One record, key "k", value "v", every field checked by hand against the layout in
// batch-header.ts and record.ts; the CRC agrees with KafkaJS's independent CRC-32C.
const GOLDEN = `
  0000000000000000  baseOffset 0
  0000003a          batchLength 58 (70 - 12)
  00000000          partitionLeaderEpoch 0
  02                magic 2
  e99b8dd8          crc
  0000              attributes: none, CreateTime, not transactional, not control
  00000000          lastOffsetDelta 0
  0000018bcfe56800  baseTimestamp 1700000000000
  0000018bcfe56800  maxTimestamp 1700000000000
  ffffffffffffffff  producerId -1
  ffff              producerEpoch -1
  ffffffff          baseSequence -1
  00000001          recordsCount 1
  10                record length 8 (zigzag)
  00                attributes
  00                timestampDelta 0
  00                offsetDelta 0
  02 6b             key length 1, "k"
  02 76             value length 1, "v"
  00                headers 0
`
  .split('\n')
  .map((line) => line.trim().split(/\s{2,}/)[0])
  .join('');

test('golden bytes: a hand-checked batch encodes and decodes exactly', () => {
  const bytes = encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: 0,
    baseTimestamp: 1_700_000_000_000,
    records: [{ offsetDelta: 0, timestampDelta: 0, key: utf8('k'), value: utf8('v') }],
  });
  assert.equal(hex(bytes), hex(fromHex(GOLDEN)));
  const d = ok(decodeBatch(fromHex(GOLDEN)));
  assert.equal(d.header.crc, 0xe99b8dd8);
  assert.equal(d.sizeBytes, 70);
  assert.deepEqual(d.records.map((r) => [r.offset, r.timestamp, r.key, r.value, r.headers]), [[0, 1_700_000_000_000, utf8('k'), utf8('v'), []]]);
});

const arbRecords = fc
  .array(
    fc.record({
      gap: fc.integer({ min: 1, max: 1000 }),
      timestampDelta: fc.integer({ min: -1_000_000, max: 10_000_000 }),
      key: fc.option(fc.uint8Array({ maxLength: 40 })),
      value: fc.option(fc.uint8Array({ maxLength: 300 })),
      headers: fc.array(fc.record({ key: fc.string({ maxLength: 12, unit: 'grapheme' }), value: fc.option(fc.uint8Array({ maxLength: 20 })) }), { maxLength: 3 }),
    }),
    { maxLength: 20 },
  )
  .map((rs) => {
    let offsetDelta = -1;
    return rs.map((r): BatchRecord => {
      offsetDelta += r.gap;
      return { offsetDelta, timestampDelta: r.timestampDelta, key: r.key, value: r.value, headers: r.headers.map((h) => ({ key: h.key, value: h.value })) };
    });
  });

const arbOptions = fc.record({
  baseOffset: fc.integer({ min: 0, max: 2 ** 50 }),
  partitionLeaderEpoch: fc.integer({ min: -1, max: 1000 }),
  baseTimestamp: fc.integer({ min: 0, max: 2 ** 42 }),
  producerId: fc.integer({ min: -1, max: 2 ** 40 }),
  producerEpoch: fc.integer({ min: -1, max: 32767 }),
  baseSequence: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
  isTransactional: fc.boolean(),
  compression: fc.constantFrom(Compression.NONE, Compression.GZIP, Compression.SNAPPY),
  records: arbRecords,
});

test('encode then decode returns every field (RB-2, RB-3, REC-3)', () => {
  fc.assert(
    fc.property(arbOptions, (o) => {
      const bytes = encodeBatch(o);
      assert.ok(batchCrcValid(bytes, 0));
      const d = ok(decodeBatch(bytes));
      const h = d.header;
      assert.equal(h.baseOffset, BigInt(o.baseOffset));
      assert.equal(h.batchLength, bytes.length - 12);
      assert.equal(h.partitionLeaderEpoch, o.partitionLeaderEpoch);
      assert.equal(h.producerId, BigInt(o.producerId));
      assert.equal(h.producerEpoch, o.producerEpoch);
      assert.equal(h.baseSequence, o.baseSequence);
      assert.equal(h.recordsCount, o.records.length);
      assert.equal(d.compression, o.compression);
      assert.equal(d.isTransactional, o.isTransactional);
      const last = o.records.at(-1);
      assert.equal(h.lastOffsetDelta, last ? last.offsetDelta : 0);
      const maxDelta = Math.max(...o.records.map((r) => r.timestampDelta));
      assert.equal(h.maxTimestamp, o.records.length ? BigInt(o.baseTimestamp + maxDelta) : -1n);
      assert.equal(d.records.length, o.records.length);
      d.records.forEach((r, i) => {
        const e = o.records[i];
        assert.equal(r.offsetDelta, e.offsetDelta);
        assert.equal(r.offset, o.baseOffset + e.offsetDelta);
        assert.equal(r.timestamp, o.baseTimestamp + e.timestampDelta);
        assert.deepEqual(r.key, e.key);
        assert.deepEqual(r.value, e.value);
        assert.deepEqual(r.headers, e.headers);
      });
    }),
    { numRuns: 150 },
  );
});

test('uncompressed key/value are views into the input, not copies (REC-2)', () => {
  const bytes = encodeBatch({ baseOffset: 0, partitionLeaderEpoch: 0, baseTimestamp: 0, records: [{ offsetDelta: 0, timestampDelta: 0, key: utf8('key'), value: utf8('value') }] });
  let seen = 0;
  const r = forEachRecord(bytes, 0, (v) => {
    assert.equal(v.key?.buffer, bytes.buffer);
    assert.equal(v.value?.buffer, bytes.buffer);
    assert.equal(v.src.buffer, bytes.buffer);
    assert.equal(v.keyStart, 5); // relative to the record section v.src
    assert.deepEqual(v.src.subarray(v.keyStart, v.keyStart + v.keyLength), utf8('key'));
    seen++;
  });
  assert.ok(!('error' in r));
  assert.equal(seen, 1);
});

test('forEachRecord stops early when the visitor returns false', () => {
  const records = [0, 1, 2, 3].map((i) => ({ offsetDelta: i, timestampDelta: 0, key: null, value: null }));
  const bytes = encodeBatch({ baseOffset: 10, partitionLeaderEpoch: 0, baseTimestamp: 0, records });
  const seen: number[] = [];
  forEachRecord(bytes, 0, (v, i) => {
    seen.push(v.offsetDelta);
    return i < 1;
  });
  assert.deepEqual(seen, [0, 1]);
});

test('LogAppendTime batches stamp every record with maxTimestamp', () => {
  const bytes = encodeBatch({ baseOffset: 0, partitionLeaderEpoch: 0, baseTimestamp: 500, logAppendTime: true, records: [{ offsetDelta: 0, timestampDelta: 3, key: null, value: null }] });
  const d = ok(decodeBatch(bytes));
  assert.ok(d.logAppendTime);
  assert.equal(d.records[0].timestamp, 500);
});

// Records section of 3 records (key-i, "value-i " x 8, header trace=abc), baseTimestamp
// 1700000000000, timestampDelta 10*i, compressed by the zstd 1.5 CLI (-19, with checksum).
const ZSTD_SECTION =
  '28b52ffd6408002d0200d402ac010000000a6b65792d30800176616c75652d3020020a747261636506616263ac010014023131202804323220092010bb3938400f7e8cd03a4b0ee631db02d827ba0388b6a159';

/** Replaces a batch's record section with `section` under codec `codec`, fixing length and CRC. */
const withSection = (batch: Uint8Array, codec: number, section: Uint8Array): Uint8Array => {
  const out = new Uint8Array(BATCH_HEADER_SIZE + section.length);
  out.set(batch.subarray(0, BATCH_HEADER_SIZE));
  out.set(section, BATCH_HEADER_SIZE);
  const v = new DataView(out.buffer);
  v.setInt32(8, out.length - 12);
  v.setInt16(21, (v.getInt16(21) & ~7) | codec);
  sealBatchCrc(out, 0);
  return out;
};

const threeRecords = (): EncodeBatchOptions => ({
  baseOffset: 0,
  partitionLeaderEpoch: 0,
  baseTimestamp: 1_700_000_000_000,
  records: [0, 1, 2].map((i) => ({ offsetDelta: i, timestampDelta: i * 10, key: utf8(`key-${i}`), value: utf8(`value-${i} `.repeat(8)), headers: [{ key: 'trace', value: utf8('abc') }] })),
});

test('zstd-compressed batches (from the zstd CLI) decode', () => {
  const plain = encodeBatch(threeRecords());
  const zstd = withSection(plain, Compression.ZSTD, fromHex(ZSTD_SECTION));
  const d = ok(decodeBatch(zstd));
  assert.equal(d.compression, 4);
  assert.deepEqual(d.records.map((r) => [r.key, r.value, r.headers]), ok(decodeBatch(plain)).records.map((r) => [r.key, r.value, r.headers]));
  const bomb = errorOf(decodeBatch(zstd, 0, { maxDecompressedBytes: 100 }));
  assert.equal(bomb.code, 2);
});

test('snappy: raw blocks and xerial framing both decode; xerial is what we write (CMP-2)', () => {
  const plain = encodeBatch(threeRecords());
  const section = plain.subarray(BATCH_HEADER_SIZE);
  const raw = withSection(plain, Compression.SNAPPY, snappyRaw(section));
  assert.equal(ok(decodeBatch(raw)).records.length, 3);
  const framed = compress(Compression.SNAPPY, section);
  assert.equal(hex(framed.subarray(0, 16)), '82534e41505059000000000100000001');
  assert.deepEqual(decompress(Compression.SNAPPY, framed), { bytes: section });
  // Several 32 KiB xerial blocks.
  const big = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
  assert.deepEqual(decompress(Compression.SNAPPY, compress(Compression.SNAPPY, big)), { bytes: big });
  assert.equal(errorOf(decompress(Compression.SNAPPY, compress(Compression.SNAPPY, big), 50_000)).code, 2);
});

// The same section compressed by the lz4 CLI v1.9.4 (liblz4, the library librdkafka uses), `-B4`:
// one frame, 64 KiB independent blocks, content checksum.
const LZ4_SECTION = [
  '04224d186440a75a000000ff06ac010000000a6b65792d30800176616c75652d3020080025f101020a74726163650661',
  '6263ac01001402580014315800133158000f08001f0a5800212804580014325800133258000f08001fb0020a74726163',
  '6506616263000000009254485e',
].join('');

/** `lz4Sample`: 140,000 bytes, 3 blocks of at most 64 KiB. */
const lz4Sample = (): Uint8Array => new Uint8Array(140_000).map((_, i) => (i % 20000 < 24 ? (i * 7) & 0xff : 120));
// lz4Sample() by the lz4 CLI v1.9.4: `-B4 -BX` (block checksums) and `-B4 -BD` (dependent blocks).
const LZ4_SAMPLE_BLOCK_CHECKSUMS = [
  '04224d187440bd7b010000ff0a00070e151c232a31383f464d545b626970777e858c939aa1780100ffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffff42ff09e0e7eef5fc030a11181f262d343b424950575e656c737a',
  '811f4effffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff42ff0a78c0c7ced5dce3eaf1f8ff06',
  '0d141b222930373e454c535a61204effffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff43ff09',
  'a0a7aeb5bcc3cad1d8dfe6edf4fb020910171e252c333a41204effffffffffffffffffffffffffffffffffffffffff85',
  '507878787878aaa75e36670100001f780100ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffa4ff0980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe',
  '050c131a219738ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ffffffffffffffffffffffffffffffa40f0200ffffffffffffffffffffffffffffffffffffffffff8bff0960676e757c',
  '838a91989fa6adb4bbc2c9d0d7dee5ecf3fa01a115ffffffffffffffffffffffffffffffffffffffffff8b0f0200ffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ffffffffffffa4ff0940474e555c636a71787f868d949ba2a9b0b7bec5ccd3dae19738ffffffffffffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff3b507878787878969b35e32d0000001f7801',
  '00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe9507878787878a08a22a70000',
  '00003efa3b29',
].join('');
const LZ4_SAMPLE_DEPENDENT = [
  '04224d1844405e7b010000ff0a00070e151c232a31383f464d545b626970777e858c939aa1780100ffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffff42ff09e0e7eef5fc030a11181f262d343b424950575e656c737a',
  '811f4effffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff42ff0a78c0c7ced5dce3eaf1f8ff06',
  '0d141b222930373e454c535a61204effffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff43ff09',
  'a0a7aeb5bcc3cad1d8dfe6edf4fb020910171e252c333a41204effffffffffffffffffffffffffffffffffffffffff85',
  '507878787878670100001f780100ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffa4ff0980878e959ca3aab1b8bfc6cdd4dbe2e9f0f7fe050c131a',
  '219738ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ffffffffffffffffffffffa40f0200ffffffffffffffffffffffffffffffffffffffffff8bff0960676e757c838a9198',
  '9fa6adb4bbc2c9d0d7dee5ecf3fa01a115ffffffffffffffffffffffffffffffffffffffffff8b0f0200ffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  'ffffa4ff0940474e555c636a71787f868d949ba2a9b0b7bec5ccd3dae19738ffffffffffffffffffffffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffff3b5078787878782d0000001f780100ffffffffffffff',
  'ffffffffffffffffffffffffffffffffffffffffffffffffffffffe9507878787878000000003efa3b29',
].join('');

test('lz4: frames written by liblz4 decode (independent blocks, block checksums, dependent blocks); we write what they read (CMP-2)', () => {
  const plain = encodeBatch(threeRecords());
  const d = ok(decodeBatch(withSection(plain, Compression.LZ4, fromHex(LZ4_SECTION))));
  assert.equal(d.compression, 3);
  assert.deepEqual(d.records.map((r) => [r.key, r.value, r.headers]), ok(decodeBatch(plain)).records.map((r) => [r.key, r.value, r.headers]));
  const sample = lz4Sample();
  for (const frame of [LZ4_SAMPLE_BLOCK_CHECKSUMS, LZ4_SAMPLE_DEPENDENT]) assert.deepEqual(bytesOf(decompress(Compression.LZ4, fromHex(frame))), sample);
  // Ours: a standard frame of independent blocks (FLG version 01, B.Indep), which liblz4 reads.
  const ours = compress(Compression.LZ4, sample);
  assert.equal(hex(ours.subarray(0, 4)), '04224d18');
  assert.equal(ours[4] & 0xe0, 0x60);
  assert.deepEqual(bytesOf(decompress(Compression.LZ4, ours)), sample);
  const encoded = encodeBatch({ ...threeRecords(), compression: Compression.LZ4 });
  assert.deepEqual(ok(decodeBatch(encoded)).records, ok(decodeBatch(plain)).records);
});

test('lz4 bombs stop at the bound (CMP-1); truncated or garbage frames are CORRUPT_MESSAGE', () => {
  const zeros = compress(Compression.LZ4, new Uint8Array(4_000_000)); // one 4 MiB block, ~16 KB
  assert.equal(bytesOf(decompress(Compression.LZ4, zeros, 4_000_000)).length, 4_000_000);
  for (const bound of [3_999_999, 1_000_000, 10]) assert.match(errorOf(decompress(Compression.LZ4, zeros, bound)).message, /exceeds/);
  // Dependent blocks decode only whole: allowed while LZ4's worst ratio (255:1) stays under the bound.
  const dependent = fromHex(LZ4_SAMPLE_DEPENDENT);
  assert.match(errorOf(decompress(Compression.LZ4, dependent, 140_000)).message, /dependent/);
  const plain = encodeBatch(threeRecords());
  const section = fromHex(LZ4_SECTION);
  for (const bad of [section.subarray(0, 20), section.subarray(0, 6), utf8('definitely not lz4'), new Uint8Array(0)]) {
    const e = errorOf(decodeBatch(withSection(plain, Compression.LZ4, bad)));
    assert.equal(e.code, 2, hex(bad));
    assert.match(e.message, /lz4/);
  }
  const hugeBlock = section.slice();
  new DataView(hugeBlock.buffer).setUint32(7, 0x7000_0000, true); // a block size past the frame's 64 KiB
  assert.match(errorOf(decompress(Compression.LZ4, hugeBlock)).message, /exceeds the frame's/);
});

test('unknown codecs are UNSUPPORTED_COMPRESSION_TYPE (76)', () => {
  const plain = encodeBatch(threeRecords());
  for (const codec of [5, 6, 7]) {
    const e = errorOf(decodeBatch(withSection(plain, codec, plain.subarray(BATCH_HEADER_SIZE))));
    assert.equal(e.code, 76);
    assert.equal(e.kind, 'UNSUPPORTED_COMPRESSION_TYPE');
  }
  assert.throws(() => encodeBatch({ ...threeRecords(), compression: Compression.ZSTD }));
});

test('gzip bombs stop at the bound (CMP-1); garbage gzip is CORRUPT_MESSAGE', () => {
  const plain = encodeBatch(threeRecords());
  const bomb = withSection(plain, Compression.GZIP, gzipSync(new Uint8Array(5_000_000)));
  assert.equal(errorOf(decodeBatch(bomb, 0, { maxDecompressedBytes: 1_000_000 })).code, 2);
  const garbage = withSection(plain, Compression.GZIP, utf8('definitely not gzip'));
  assert.equal(errorOf(decodeBatch(garbage)).code, 2);
  const truncated = withSection(plain, Compression.GZIP, gzipSync(plain.subarray(BATCH_HEADER_SIZE)).subarray(0, 30));
  assert.equal(errorOf(decodeBatch(truncated)).code, 2);
});

const golden = (): Uint8Array => fromHex(GOLDEN);
const mutate = (f: (b: Uint8Array, v: DataView) => void, reseal = true): Uint8Array => {
  const b = golden();
  f(b, new DataView(b.buffer));
  if (reseal) sealBatchCrc(b, 0);
  return b;
};

test('batch-level damage is CORRUPT_MESSAGE (2)', () => {
  const cases: [string, Uint8Array][] = [
    ['crc', mutate((b) => (b[65] ^= 1), false)],
    ['magic', mutate((b) => (b[16] = 1), false)],
    ['size below 61', mutate((_, v) => v.setInt32(8, 10), false)],
    ['negative size', mutate((_, v) => v.setInt32(8, -5), false)],
    ['truncated', golden().subarray(0, 69)],
    ['header only partly there', golden().subarray(0, 30)],
    ['empty', new Uint8Array(0)],
  ];
  for (const [name, bytes] of cases) assert.equal(errorOf(decodeBatch(bytes)).code, 2, name);
  assert.equal(errorOf(decodeBatch(golden(), 71)).code, 2);
});

test('record-level damage is INVALID_RECORD (87)', () => {
  const cases: [string, Uint8Array][] = [
    ['count too high', mutate((_, v) => v.setInt32(57, 2))],
    ['count zero with a record present', mutate((_, v) => v.setInt32(57, 0))],
    ['negative count', mutate((_, v) => v.setInt32(57, -1))],
    ['absurd count', mutate((_, v) => v.setInt32(57, 0x7fffffff))],
    ['record length too long', mutate((b) => (b[61] = 0x12))],
    ['record length too short', mutate((b) => (b[61] = 0x0e))],
    ['negative record length', mutate((b) => (b[61] = 0x01))],
    ['key runs past record', mutate((b) => (b[65] = 0x20))],
    ['negative header count', mutate((b) => (b[69] = 0x01))],
    ['overlong varint', mutate((b) => b.fill(0xff, 62, 69))],
  ];
  for (const [name, bytes] of cases) {
    const e = errorOf(decodeBatch(bytes));
    assert.equal(e.code, 87, `${name}: ${e.message}`);
  }
});

test('negative header key size and trailing bytes are INVALID_RECORD', () => {
  const base = encodeBatch({ baseOffset: 0, partitionLeaderEpoch: 0, baseTimestamp: 0, records: [{ offsetDelta: 0, timestampDelta: 0, key: null, value: null, headers: [{ key: 'h', value: null }] }] });
  const neg = base.slice();
  assert.equal(hex(neg.subarray(61)), '12000000010102026801');
  neg[68] = 0x01; // header key length -1
  sealBatchCrc(neg, 0);
  assert.equal(errorOf(decodeBatch(neg)).code, 87);
  const trailing = withSection(base, 0, Uint8Array.from([...base.subarray(61), 0x00]));
  assert.match(errorOf(decodeBatch(trailing)).message, /remaining/);
});

test('hostile bytes never throw (fuzz: bit flips, truncation, splices, noise)', () => {
  const seeds = [golden(), encodeBatch(threeRecords()), encodeBatch({ ...threeRecords(), compression: Compression.GZIP }), encodeBatch({ ...threeRecords(), compression: Compression.SNAPPY })];
  fc.assert(
    fc.property(
      fc.constantFrom(...seeds),
      fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 6 }),
      fc.nat(),
      fc.boolean(),
      (seed, flips, cut, reseal) => {
        const b = seed.slice(0, Math.max(0, seed.length - (cut % 8 === 0 ? cut % seed.length : 0)));
        for (const f of flips) if (b.length > 0) b[f.at % b.length] = f.byte;
        if (reseal && b.length >= 61) {
          const v = new DataView(b.buffer);
          if (12 + v.getInt32(8) <= b.length && v.getInt32(8) >= 49) sealBatchCrc(b, 0);
        }
        const d = decodeBatch(b, 0, { verifyCrc: false, maxDecompressedBytes: 1 << 20 });
        decodeBatch(b);
        validateBatchForAppend(b);
        splitBatches(b, 0, { verifyCrc: true });
        forEachRecord(b, 0, () => {}, { verifyCrc: false });
        if ('error' in d) assert.ok([2, 76, 87].includes(d.error.code));
      },
    ),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (b) => {
      decodeBatch(b, 0, { verifyCrc: false });
      validateBatchForAppend(b);
      splitBatches(b);
    }),
    { numRuns: 1000 },
  );
});

const produced = (over: Partial<EncodeBatchOptions> = {}): Uint8Array =>
  encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    baseTimestamp: 1_000_000,
    producerId: 42,
    producerEpoch: 0,
    baseSequence: 7,
    records: [0, 1, 2].map((i) => ({ offsetDelta: i, timestampDelta: i, key: utf8(`k${i}`), value: utf8('v') })),
    ...over,
  });

test('validateBatchForAppend accepts what a broker accepts (RB-4)', () => {
  const r = validateBatchForAppend(produced());
  assert.ok(!('error' in r));
  assert.equal(r.recordsCount, 3);
  assert.equal(r.maxTimestamp, 1_000_002);
  assert.ok(r.maxTimestampMatches);
  assert.ok(!('error' in validateBatchForAppend(produced({ compression: Compression.GZIP }))));
  assert.ok(!('error' in validateBatchForAppend(produced({ producerId: -1, producerEpoch: -1, baseSequence: -1 }))));
});

test('validateBatchForAppend rejects what a broker rejects (RB-4)', () => {
  const two = new Uint8Array([...produced(), ...produced()]);
  const gappy = produced({ records: [0, 2].map((i) => ({ offsetDelta: i, timestampDelta: 0, key: null, value: null })), lastOffsetDelta: 1 });
  const cases: [string, Uint8Array, number][] = [
    ['two batches', two, 87],
    ['partial batch', produced().subarray(0, 70), 87],
    ['tiny', new Uint8Array(5), 87],
    ['magic 1', mutateBytes(produced(), (b) => (b[16] = 1)), 87],
    ['crc', mutateBytes(produced(), (b) => (b[70] ^= 0x40), false), 2],
    ['empty batch', produced({ records: [] }), 87],
    ['lastOffsetDelta vs count', produced({ lastOffsetDelta: 5 }), 87],
    ['offsets not dense', gappy, 87],
    ['control from a client', produced({ isControl: true }), 87],
    ['producer id without sequence', produced({ baseSequence: -1 }), 87],
    ['transactional without producer id', produced({ producerId: -1, baseSequence: -1, isTransactional: true }), 87],
  ];
  for (const [name, bytes, code] of cases) assert.equal(errorOf(validateBatchForAppend(bytes)).code, code, name);
  assert.ok(!('error' in validateBatchForAppend(produced({ isControl: true }), { allowControl: true })));
  const keyless = produced({ records: [{ offsetDelta: 0, timestampDelta: 0, key: null, value: utf8('v') }] });
  assert.ok(!('error' in validateBatchForAppend(keyless)));
  assert.equal(errorOf(validateBatchForAppend(keyless, { requireKeys: true })).code, 87);
});

function mutateBytes(b: Uint8Array, f: (b: Uint8Array) => void, reseal = true): Uint8Array {
  f(b);
  if (reseal) sealBatchCrc(b, 0);
  return b;
}

test('validateBatchForAppend: timestamps out of range are INVALID_TIMESTAMP (32)', () => {
  const b = produced();
  assert.ok(!('error' in validateBatchForAppend(b, { nowMs: 1_000_500, maxTimestampDiffMs: 1000 })));
  assert.equal(errorOf(validateBatchForAppend(b, { nowMs: 9_000_000, maxTimestampDiffMs: 1000 })).code, 32);
});

test('validateBatchForAppend: a record without a timestamp (-1) is not range-checked, as in Kafka (found in review)', () => {
  const b = encodeBatch({ baseOffset: 0, partitionLeaderEpoch: -1, baseTimestamp: -1, records: [{ offsetDelta: 0, timestampDelta: 0, key: null, value: utf8('v') }] });
  assert.ok(!('error' in validateBatchForAppend(b, { nowMs: 9_000_000, maxTimestampDiffMs: 1000 })));
});

test('decodeBatch: a base offset beyond 2^53 is CORRUPT_MESSAGE, not rounded offsets (found in review)', () => {
  const b = encodeBatch(threeRecords());
  stampBatch(b, 0, 2 ** 53 - 2, 0); // lastOffsetDelta 2: the last offset would be 2^53
  assert.equal(errorOf(decodeBatch(b)).code, 2);
  stampBatch(b, 0, 2 ** 53 - 3, 0);
  assert.ok(!('error' in decodeBatch(b)));
});

test('a wrong client maxTimestamp is flagged and setMaxTimestamp fixes it', () => {
  const b = produced({ maxTimestamp: 5 });
  const r = validateBatchForAppend(b);
  assert.ok(!('error' in r) && !r.maxTimestampMatches && r.maxTimestamp === 1_000_002);
  setMaxTimestamp(b, 0, 1_000_002);
  const again = validateBatchForAppend(b);
  assert.ok(!('error' in again) && again.maxTimestampMatches);
});

test('stampBatch keeps the CRC valid (RB-1)', () => {
  const b = produced();
  stampBatch(b, 0, 123456, 9);
  assert.ok(batchCrcValid(b, 0));
  const d = ok(decodeBatch(b));
  assert.equal(d.records[2].offset, 123458);
  assert.equal(d.header.partitionLeaderEpoch, 9);
});

test('splitBatches walks whole batches and stops at a partial tail (RB-5)', () => {
  const a = produced();
  const b = encodeBatch(threeRecords());
  const all = new Uint8Array([...a, ...b, ...golden()]);
  const whole = splitBatches(all);
  assert.deepEqual(whole.batches, [{ off: 0, sizeBytes: a.length }, { off: a.length, sizeBytes: b.length }, { off: a.length + b.length, sizeBytes: 70 }]);
  assert.equal(whole.endOffset, all.length);
  assert.equal(whole.error, null);
  for (const cut of [1, 11, 12, 60, 69]) {
    const r = splitBatches(all.subarray(0, all.length - cut));
    assert.equal(r.batches.length, 2);
    assert.equal(r.endOffset, a.length + b.length);
    assert.equal(r.error, null);
  }
  assert.deepEqual(splitBatches(all, a.length).batches.length, 2);
  const bad = all.slice();
  new DataView(bad.buffer).setInt32(a.length + 8, 3);
  const r = splitBatches(bad);
  assert.equal(r.batches.length, 1);
  assert.equal(r.error?.code, 2);
  const flipped = all.slice();
  flipped[a.length + 30] ^= 1;
  assert.equal(splitBatches(flipped).batches.length, 3);
  const checked = splitBatches(flipped, 0, { verifyCrc: true });
  assert.equal(checked.batches.length, 1);
  assert.equal(checked.error?.code, 2);
});

test('forEachRecord with views: false gives offsets only (no per-record allocation)', () => {
  const bytes = encodeBatch(threeRecords());
  const keys: string[] = [];
  const r = forEachRecord(
    bytes,
    0,
    (v) => {
      assert.equal(v.key, null);
      assert.equal(v.value, null);
      keys.push(Buffer.from(v.src.subarray(v.keyStart, v.keyStart + v.keyLength)).toString());
    },
    { views: false },
  );
  assert.ok(!('error' in r));
  assert.deepEqual(keys, ['key-0', 'key-1', 'key-2']);
});

test('encoding is deterministic for every codec (no wall clock in gzip headers)', () => {
  for (const compression of [Compression.NONE, Compression.GZIP, Compression.SNAPPY] as const) {
    const a = encodeBatch({ ...threeRecords(), compression });
    const b = encodeBatch({ ...threeRecords(), compression });
    assert.deepEqual(a, b);
  }
  const gz = compress(Compression.GZIP, utf8('x'));
  assert.deepEqual([...gz.subarray(4, 8)], [0, 0, 0, 0]); // MTIME field
});

test('assembleBatch re-wraps kept record bytes (compaction keeps offsets and timestamps)', () => {
  const src = encodeBatch({ ...threeRecords(), baseOffset: 50, producerId: 8, producerEpoch: 1, baseSequence: 3 });
  const kept: Uint8Array[] = [];
  const r = forEachRecord(src, 0, (v) => {
    if (v.offsetDelta !== 1) kept.push(v.src.slice(v.recordStart, v.recordStart + v.sizeBytes));
  });
  assert.ok(!('error' in r));
  const h = r.header;
  for (const compression of [Compression.NONE, Compression.GZIP] as const) {
    const out = assembleBatch(
      { baseOffset: h.baseOffset, partitionLeaderEpoch: h.partitionLeaderEpoch, baseTimestamp: h.baseTimestamp, producerId: h.producerId, producerEpoch: h.producerEpoch, baseSequence: h.baseSequence, compression, recordsCount: kept.length, lastOffsetDelta: h.lastOffsetDelta, maxTimestamp: h.maxTimestamp },
      new Uint8Array(kept.flatMap((k) => [...k])),
    );
    const d = ok(decodeBatch(out));
    assert.deepEqual(d.records.map((x) => [x.offset, x.timestamp]), [[50, 1_700_000_000_000], [52, 1_700_000_000_020]]);
    assert.equal(d.header.lastOffsetDelta, 2);
    assert.equal(d.header.producerId, 8n);
  }
});

// DEC-1 (found in review): snappyjs trusts its input. A literal whose 4-byte length is above 2^31
// went negative and looped forever on the same bytes (this 67-byte batch hung decodeBatch), and
// a block shorter than its claimed length decoded as zeroes. Blocks are now walked first.
test('DEC-1: malformed snappy blocks are CORRUPT_MESSAGE, never a hang or zeroes', () => {
  const plain = encodeBatch(threeRecords());
  const hostile = [
    Uint8Array.of(0x00, 0xfc, 0x00, 0x00, 0x00, 0x80), // length 0, literal of 2^31 + 1 bytes
    Uint8Array.of(0x00, 0xfc, 0x00, 0xff, 0xff, 0xff), // literal of 0xffffff01 bytes
    Uint8Array.of(0x80, 0x80, 0x80, 0x20), // claims 64 MiB, holds nothing
    Uint8Array.of(0x05, 0x04, 0x61, 0x62), // claims 5, a 2-byte literal
    Uint8Array.of(0x04, 0x01, 0x05), // claims 4, a copy before any output
    Uint8Array.of(0x02, 0x04, 0x61, 0x62, 0x63), // claims 2, a 2-byte literal then a stray byte
  ];
  for (const section of hostile) {
    const e = errorOf(decodeBatch(withSection(plain, Compression.SNAPPY, section)));
    assert.equal(e.code, 2, Buffer.from(section).toString('hex'));
  }
  const xerial = Uint8Array.of(0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 6, 0x00, 0xfc, 0x00, 0xff, 0xff, 0xff);
  assert.equal(errorOf(decodeBatch(withSection(plain, Compression.SNAPPY, xerial))).code, 2, 'the same inside xerial framing');
  // Well-formed blocks still decode, raw and framed (the codec's own round trip).
  const ok = encodeBatch({ ...threeRecords(), compression: Compression.SNAPPY });
  assert.ok(!('error' in decodeBatch(ok)));
});

// DEC-2 (found in review): fzstd's streaming decoder allocates the window a frame header claims
// and shifts it once per block, whatever the decompression bound.
test('DEC-2: zstd frames claiming windows over the bound, or too many blocks for their window, are CORRUPT_MESSAGE at once', () => {
  const plain = encodeBatch(threeRecords());
  const MiB = 1 << 20;
  // FHD 0x00 (no content size, not single segment), window descriptor: 2^(10+exp) x (1 + mant/8).
  const frame = (exp: number, blocks: number): Uint8Array => {
    const out = [0x28, 0xb5, 0x2f, 0xfd, 0x00, exp << 3];
    for (let i = 0; i < blocks; i++) out.push(...[(1 << 3) | (1 << 1) | (i === blocks - 1 ? 1 : 0), 0, 0, 0x61]); // RLE block: 'a' x 1
    return Uint8Array.from(out);
  };
  const huge = errorOf(decodeBatch(withSection(plain, Compression.ZSTD, Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa7, 0x09, 0, 0)), 0, { maxDecompressedBytes: MiB }));
  assert.equal(huge.code, 2);
  assert.match(huge.message, /window/);
  // 64 MiB window (at the default 64 MiB bound), 20 one-byte blocks: 1.25 GiB to shift, over 1 GiB.
  const many = errorOf(decodeBatch(withSection(plain, Compression.ZSTD, frame(16, 20))));
  assert.match(many.message, /too many blocks/);
  // 1 MiB window, 20 blocks: fine (it decodes to 20 x 'a', not a valid record section: still CORRUPT, but from decoding).
  const few = errorOf(decodeBatch(withSection(plain, Compression.ZSTD, frame(10, 20))));
  assert.doesNotMatch(few.message, /too many blocks|window/);
});
