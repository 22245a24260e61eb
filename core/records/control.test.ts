// CTL-1: end-transaction markers and control keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeBatch, validateBatchForAppend } from './batch.ts';
import {
  ControlRecordType,
  decodeControlKey,
  decodeEndTxnMarker,
  decodeEndTxnMarkerBatch,
  encodeControlKey,
  encodeEndTxnMarkerBatch,
  encodeEndTxnMarkerValue,
} from './control.ts';
import { encodeBatch } from './batch.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('control key and marker value bytes', () => {
  assert.equal(hex(encodeControlKey(ControlRecordType.ABORT)), '00000000');
  assert.equal(hex(encodeControlKey(ControlRecordType.COMMIT)), '00000001');
  assert.equal(hex(encodeEndTxnMarkerValue(0x01020304)), '000001020304');
  assert.deepEqual(decodeControlKey(encodeControlKey(6)), { version: 0, type: 6 });
  assert.deepEqual(decodeEndTxnMarker(encodeControlKey(1), encodeEndTxnMarkerValue(7)), { type: 'COMMIT', coordinatorEpoch: 7 });
  assert.deepEqual(decodeEndTxnMarker(encodeControlKey(0), encodeEndTxnMarkerValue(-1)), { type: 'ABORT', coordinatorEpoch: -1 });
});

test('a newer key/value version is read by its v0 prefix', () => {
  const key = Uint8Array.from([0, 1, 0, 1, 9, 9]);
  const value = Uint8Array.from([0, 1, 0, 0, 0, 5, 42]);
  assert.deepEqual(decodeEndTxnMarker(key, value), { type: 'COMMIT', coordinatorEpoch: 5 });
});

test('malformed control records are INVALID_RECORD', () => {
  const bad = [
    decodeControlKey(null),
    decodeControlKey(Uint8Array.from([0, 0, 0])),
    decodeControlKey(Uint8Array.from([0xff, 0xff, 0, 1])),
    decodeEndTxnMarker(encodeControlKey(2), encodeEndTxnMarkerValue(1)),
    decodeEndTxnMarker(encodeControlKey(1), null),
    decodeEndTxnMarker(encodeControlKey(1), Uint8Array.from([0, 0, 0, 0, 1])),
  ];
  for (const r of bad) assert.ok('error' in r && r.error.code === 87, JSON.stringify(r));
});

test('marker batches round-trip and are shaped as Kafka writes them (CTL-1)', () => {
  fc.assert(
    fc.property(
      fc.record({
        baseOffset: fc.integer({ min: 0, max: 2 ** 48 }),
        partitionLeaderEpoch: fc.integer({ min: 0, max: 1000 }),
        timestampMs: fc.integer({ min: 0, max: 2 ** 42 }),
        producerId: fc.integer({ min: 0, max: 2 ** 48 }),
        producerEpoch: fc.integer({ min: 0, max: 32767 }),
        type: fc.constantFrom('COMMIT' as const, 'ABORT' as const),
        coordinatorEpoch: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
      }),
      (m) => {
        const bytes = encodeEndTxnMarkerBatch(m);
        const d = decodeEndTxnMarkerBatch(bytes);
        assert.deepEqual(d, { type: m.type, coordinatorEpoch: m.coordinatorEpoch, producerId: BigInt(m.producerId), producerEpoch: m.producerEpoch, offset: m.baseOffset });
        const b = decodeBatch(bytes);
        assert.ok(!('error' in b));
        assert.ok(b.isControl && b.isTransactional);
        assert.equal(b.header.baseSequence, -1);
        assert.equal(b.header.attributes, 0x30);
      },
    ),
    { numRuns: 200 },
  );
});

test('markers are refused from clients, accepted from the coordinator path', () => {
  const bytes = encodeEndTxnMarkerBatch({ baseOffset: 0, partitionLeaderEpoch: 0, timestampMs: 1, producerId: 5, producerEpoch: 0, type: 'COMMIT', coordinatorEpoch: 1 });
  const client = validateBatchForAppend(bytes);
  assert.ok('error' in client && client.error.code === 87);
  // baseSequence -1 with a producer id is what markers carry; the coordinator path checks
  // shape through decodeEndTxnMarkerBatch rather than the client rules.
  assert.ok(!('error' in decodeEndTxnMarkerBatch(bytes)));
});

test('non-marker batches are rejected by decodeEndTxnMarkerBatch', () => {
  const plain = encodeBatch({ baseOffset: 0, partitionLeaderEpoch: 0, baseTimestamp: 0, records: [{ offsetDelta: 0, timestampDelta: 0, key: encodeControlKey(1), value: encodeEndTxnMarkerValue(1) }] });
  const r = decodeEndTxnMarkerBatch(plain);
  assert.ok('error' in r && r.error.code === 87);
  const twoRecords = encodeBatch({
    baseOffset: 0, partitionLeaderEpoch: 0, baseTimestamp: 0, isControl: true, isTransactional: true, producerId: 1, producerEpoch: 0,
    records: [0, 1].map((i) => ({ offsetDelta: i, timestampDelta: 0, key: encodeControlKey(1), value: encodeEndTxnMarkerValue(1) })),
  });
  const r2 = decodeEndTxnMarkerBatch(twoRecords);
  assert.ok('error' in r2 && /2 records/.test(r2.error.message));
});
