// Micro benchmark of core/records: encode, decode, visit, validate, split, CRC.
// Run: npm run bench -- records   (prints ops/s and MB/s; a few seconds in all)
import { encodeBatch, decodeBatch, forEachRecord, splitBatches, validateBatchForAppend } from '../core/records/batch.ts';
import { Compression } from '../core/records/compression.ts';
import { crc32c, crc32cPure } from '../core/records/crc32c.ts';

const RECORDS = 100;
const VALUE_BYTES = 100;

const makeOptions = (compression: 0 | 1 | 2) => ({
  baseOffset: 0,
  partitionLeaderEpoch: 0,
  baseTimestamp: 1_700_000_000_000,
  producerId: 1,
  producerEpoch: 0,
  baseSequence: 0,
  compression,
  records: Array.from({ length: RECORDS }, (_, i) => ({
    offsetDelta: i,
    timestampDelta: i,
    key: new TextEncoder().encode(`key-${i}`),
    value: new Uint8Array(VALUE_BYTES).map((_, j) => (i * 31 + j) & 0xff),
    headers: [{ key: 'h', value: new Uint8Array(4) }],
  })),
});

const bench = (name: string, bytesPerOp: number, fn: () => void): void => {
  for (let i = 0; i < 50; i++) fn();
  const budgetMs = 400;
  const start = performance.now();
  let ops = 0;
  while (performance.now() - start < budgetMs) {
    for (let i = 0; i < 20; i++) fn();
    ops += 20;
  }
  const secs = (performance.now() - start) / 1000;
  const mbps = (ops * bytesPerOp) / secs / 1e6;
  console.log(`${name.padEnd(42)} ${(ops / secs).toFixed(0).padStart(9)} ops/s ${mbps.toFixed(1).padStart(8)} MB/s`);
};

/** `npm run bench -- records` (scripts/bench.ts dispatches here). */
export const run = async (_args: string[]): Promise<void> => {
  for (const codec of [Compression.NONE, Compression.GZIP, Compression.SNAPPY] as const) {
    const opts = makeOptions(codec);
    const batch = encodeBatch(opts);
    const tag = ['none', 'gzip', 'snappy'][codec];
    bench(`encodeBatch ${RECORDS}x${VALUE_BYTES}B ${tag}`, batch.length, () => encodeBatch(opts));
    bench(`decodeBatch ${tag}`, batch.length, () => decodeBatch(batch));
    bench(`forEachRecord ${tag}`, batch.length, () => forEachRecord(batch, 0, () => {}));
    bench(`forEachRecord ${tag} (no CRC check)`, batch.length, () => forEachRecord(batch, 0, () => {}, { verifyCrc: false }));
    bench(`forEachRecord ${tag} (no CRC, no views)`, batch.length, () => forEachRecord(batch, 0, () => {}, { verifyCrc: false, views: false }));
    bench(`validateBatchForAppend ${tag}`, batch.length, () => validateBatchForAppend(batch));
  }
  const one = encodeBatch(makeOptions(0));
  const segment = new Uint8Array(one.length * 100);
  for (let i = 0; i < 100; i++) segment.set(one, i * one.length);
  bench('splitBatches 100 batches', segment.length, () => splitBatches(segment));
  bench('splitBatches 100 batches + CRC', segment.length, () => splitBatches(segment, 0, { verifyCrc: true }));
  const mib = new Uint8Array(1 << 20).map((_, i) => i & 0xff);
  bench('crc32c native 1 MiB', mib.length, () => crc32c(mib));
  bench('crc32cPure 1 MiB', mib.length, () => crc32cPure(mib));
};
