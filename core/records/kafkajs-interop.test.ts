// Interop with KafkaJS 2.x (an independent RecordBatch v2 implementation): batches KafkaJS
// encodes (directly and inside a real Produce v3 request) decode in Cairn, and batches Cairn
// encodes decode in KafkaJS (directly and through its Fetch v4+ record-set decoder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { decodeBatch, encodeBatch, splitBatches, validateBatchForAppend, type DecodedBatch, type EncodeBatchOptions } from './batch.ts';
import { Compression } from './compression.ts';
import type { RecordsError } from './records-error.ts';

const require = createRequire(import.meta.url);
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js');
const KRecord = require('kafkajs/src/protocol/recordBatch/record/v0/index.js');
const kDecodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js');
const KDecoder = require('kafkajs/src/protocol/decoder.js');
const ProduceV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js');
const kDecodeMessages = require('kafkajs/src/protocol/requests/fetch/v4/decodeMessages.js');
const Long = require('kafkajs/src/utils/long.js');
const { Types: KCompression } = require('kafkajs/src/protocol/message/compression/index.js');

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString('utf8'));
const ok = (r: DecodedBatch | { error: RecordsError }): DecodedBatch => {
  if ('error' in r) assert.fail(`Cairn refused the batch: ${JSON.stringify(r.error)}`);
  return r;
};

interface KMessage {
  key: string | null;
  value: string | null;
  headers?: Record<string, string | string[]>;
}

const MESSAGES: KMessage[] = [
  { key: 'user-1', value: 'hello', headers: { trace: 'abc', 'ünïcode-κλειδί': 'v' } },
  { key: null, value: 'keyless' },
  { key: 'user-2', value: null }, // a tombstone
  { key: 'user-3', value: 'x'.repeat(500), headers: { dup: ['one', 'two'] } },
  { key: '', value: '' },
];

const kafkajsBatch = async (o: {
  compression?: number;
  transactional?: boolean;
  producerId?: number;
  producerEpoch?: number;
  firstSequence?: number;
  firstOffset?: number;
}): Promise<Uint8Array> => {
  const base = 1_700_000_000_000;
  const records = MESSAGES.map((m, i) =>
    KRecord({ offsetDelta: i, timestampDelta: i * 3, key: m.key === null ? null : Buffer.from(m.key), value: m.value === null ? null : Buffer.from(m.value), headers: m.headers }),
  );
  const enc = await RecordBatch({
    compression: o.compression ?? KCompression.None,
    firstOffset: Long.fromValue(o.firstOffset ?? 0),
    firstTimestamp: base,
    maxTimestamp: base + (MESSAGES.length - 1) * 3,
    partitionLeaderEpoch: 4,
    lastOffsetDelta: MESSAGES.length - 1,
    transactional: o.transactional ?? false,
    producerId: Long.fromValue(o.producerId ?? -1),
    producerEpoch: o.producerEpoch ?? 0,
    firstSequence: o.firstSequence ?? 0,
    records,
  });
  return new Uint8Array(enc.buffer);
};

const headerPairs = (m: KMessage): [string, string][] =>
  Object.entries(m.headers ?? {}).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x): [string, string] => [k, x]) : [[k, v]]));

const assertMatchesMessages = (d: DecodedBatch, firstOffset = 0): void => {
  assert.equal(d.records.length, MESSAGES.length);
  d.records.forEach((r, i) => {
    const m = MESSAGES[i];
    assert.equal(r.offset, firstOffset + i);
    assert.equal(r.timestamp, 1_700_000_000_000 + i * 3);
    assert.equal(text(r.key), m.key);
    assert.equal(text(r.value), m.value);
    assert.deepEqual(r.headers.map((h) => [h.key, text(h.value)]), headerPairs(m));
  });
};

test('KafkaJS -> Cairn: plain batch with headers, null keys and values', async () => {
  const bytes = await kafkajsBatch({ firstOffset: 100 });
  const d = ok(decodeBatch(bytes));
  assert.equal(d.header.partitionLeaderEpoch, 4);
  assert.equal(d.header.lastOffsetDelta, 4);
  assert.equal(d.header.maxTimestamp, 1_700_000_000_012n);
  assert.equal(d.compression, 0);
  assertMatchesMessages(d, 100);
});

test('KafkaJS -> Cairn: gzip-compressed batch', async () => {
  const d = ok(decodeBatch(await kafkajsBatch({ compression: KCompression.GZIP })));
  assert.equal(d.compression, Compression.GZIP);
  assertMatchesMessages(d);
});

test('KafkaJS -> Cairn: transactional, idempotent producer fields', async () => {
  const bytes = await kafkajsBatch({ transactional: true, producerId: 12345, producerEpoch: 3, firstSequence: 17 });
  const d = ok(decodeBatch(bytes));
  assert.ok(d.isTransactional);
  assert.ok(!d.isControl);
  assert.equal(d.header.producerId, 12345n);
  assert.equal(d.header.producerEpoch, 3);
  assert.equal(d.header.baseSequence, 17);
  assertMatchesMessages(d);
  assert.ok(!('error' in validateBatchForAppend(bytes)));
});

test('KafkaJS -> Cairn: the batch inside a real Produce v3 request passes broker validation', async () => {
  for (const compression of [KCompression.None, KCompression.GZIP]) {
    const now = 1_700_000_000_000;
    const request = ProduceV3({
      acks: -1,
      timeout: 30000,
      transactionalId: 'tx-1',
      producerId: Long.fromValue(77),
      producerEpoch: 2,
      compression,
      topicData: [
        {
          topic: 'orders',
          partitions: [
            {
              partition: 0,
              firstSequence: 5,
              messages: MESSAGES.map((m, i) => ({ key: m.key === null ? null : m.key, value: m.value, headers: m.headers, timestamp: now + i * 3 })),
            },
          ],
        },
      ],
    });
    const body: Buffer = (await request.encode()).buffer;
    // transactional_id string, acks int16, timeout int32, [topic string, [partition int32, records bytes]]
    let pos = 2 + body.readInt16BE(0) + 2 + 4 + 4;
    pos += 2 + body.readInt16BE(pos) + 4 + 4;
    const size = body.readInt32BE(pos);
    const batch = new Uint8Array(body.subarray(pos + 4, pos + 4 + size));
    const v = validateBatchForAppend(batch, { nowMs: now, maxTimestampDiffMs: 60_000 });
    if ('error' in v) assert.fail(`Cairn refused KafkaJS's produce batch: ${v.error.message}`);
    assert.ok(v.maxTimestampMatches);
    const d = ok(decodeBatch(batch));
    assert.ok(d.isTransactional);
    assert.equal(d.header.producerId, 77n);
    assert.equal(d.header.baseSequence, 5);
    assertMatchesMessages(d);
  }
});

const cairnOptions = (over: Partial<EncodeBatchOptions> = {}): EncodeBatchOptions => ({
  baseOffset: 0,
  partitionLeaderEpoch: 4,
  baseTimestamp: 1_700_000_000_000,
  producerId: -1,
  producerEpoch: 0,
  baseSequence: 0,
  records: MESSAGES.map((m, i) => ({
    offsetDelta: i,
    timestampDelta: i * 3,
    key: m.key === null ? null : utf8(m.key),
    value: m.value === null ? null : utf8(m.value),
    headers: headerPairs(m).map(([key, value]) => ({ key, value: utf8(value) })),
  })),
  ...over,
});

const kafkajsDecode = async (bytes: Uint8Array) => kDecodeBatch(new KDecoder(Buffer.from(bytes)));

const assertKafkajsSees = (k: any, firstOffset = 0): void => {
  assert.equal(k.records.length, MESSAGES.length);
  k.records.forEach((r: any, i: number) => {
    const m = MESSAGES[i];
    assert.equal(r.offset, String(firstOffset + i));
    assert.equal(r.timestamp, String(1_700_000_000_000 + i * 3));
    assert.equal(r.key === null ? null : r.key.toString(), m.key);
    assert.equal(r.value === null ? null : r.value.toString(), m.value);
    const headers = Object.fromEntries(Object.entries(r.headers).map(([hk, hv]: [string, any]) => [hk, Array.isArray(hv) ? hv.map(String) : String(hv)]));
    assert.deepEqual(headers, m.headers ?? {});
  });
};

test('Cairn -> KafkaJS: plain batch is byte-identical to KafkaJS encoding and decodes there', async () => {
  const ours = encodeBatch(cairnOptions());
  assert.equal(Buffer.from(ours).toString('hex'), Buffer.from(await kafkajsBatch({})).toString('hex'));
  const k = await kafkajsDecode(encodeBatch(cairnOptions({ baseOffset: 1000 })));
  assert.equal(k.partitionLeaderEpoch, 4);
  assert.equal(k.maxTimestamp, '1700000000012');
  assertKafkajsSees(k, 1000);
});

test('Cairn -> KafkaJS: gzip batch decodes there', async () => {
  const k = await kafkajsDecode(encodeBatch(cairnOptions({ compression: Compression.GZIP })));
  assertKafkajsSees(k);
});

test('Cairn -> KafkaJS: transactional fields and a control marker batch', async () => {
  const k = await kafkajsDecode(encodeBatch(cairnOptions({ isTransactional: true, producerId: 9_007_199_254_740_991n, producerEpoch: 32767, baseSequence: 2_000_000_000 })));
  assert.equal(k.inTransaction, true);
  assert.equal(k.producerId, '9007199254740991');
  assert.equal(k.producerEpoch, 32767);
  assert.equal(k.firstSequence, 2_000_000_000);
  assertKafkajsSees(k);
  const control = await kafkajsDecode(encodeBatch(cairnOptions({ isTransactional: true, isControl: true, producerId: 5 })));
  assert.equal(control.isControlBatch, true);
});

test('Cairn -> KafkaJS Fetch decoder: concatenated batches with a partial tail (as a segment read returns)', async () => {
  const a = encodeBatch(cairnOptions({ baseOffset: 0 }));
  const b = encodeBatch(cairnOptions({ baseOffset: 5, compression: Compression.GZIP }));
  const c = encodeBatch(cairnOptions({ baseOffset: 10 }));
  const recordSet = new Uint8Array([...a, ...b, ...c.subarray(0, c.length - 7)]);
  const split = splitBatches(recordSet);
  assert.deepEqual(split.batches.map((s) => s.off), [0, a.length]);
  const framed = Buffer.alloc(4 + recordSet.length);
  framed.writeInt32BE(recordSet.length, 0);
  framed.set(recordSet, 4);
  const records = await kDecodeMessages(new KDecoder(framed));
  assert.deepEqual(records.map((r: any) => r.offset), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
});
