import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isEncodableString } from './byte-codec.ts';
import fc from 'fast-check';
import { recordArb } from './arbitraries.ts';
import {
  type MetadataRecord,
  decodeRecords,
  encodeRecords,
  noOpRecord,
  partitionChangeRecord,
  topicRecord,
} from './records.ts';

const ID = '0123456789abcdef0123456789abcdef';

test('REC-1: a batch of random records round-trips, deterministically', () => {
  fc.assert(
    fc.property(fc.array(recordArb, { maxLength: 8 }), (records) => {
      const bytes = encodeRecords(records);
      assert.deepEqual(encodeRecords(records), bytes);
      const back = decodeRecords(bytes);
      assert.ok(Array.isArray(back), JSON.stringify(back));
      assert.deepEqual(back, records);
    }),
    { numRuns: 300 },
  );
});

test('frames follow Kafka metadata framing: frame version, apiKey, version, body, tags', () => {
  // format 1, count 1, frame size 4, frameVersion 1, apiKey 20, version 0, no tags
  assert.deepEqual([...encodeRecords([noOpRecord()])], [1, 1, 4, 1, 20, 0, 0]);
  const topic = encodeRecords([topicRecord({ name: 'ab', topicId: ID })]);
  // frame: 1, 2, 0, compact string (len+1=3) 'a' 'b', 16 uuid bytes, 0 tags  => 1+1+1+3+16+1 = 23
  assert.deepEqual([...topic.subarray(0, 9)], [1, 1, 23, 1, 2, 0, 3, 0x61, 0x62]);
  assert.deepEqual([...topic.subarray(9, 25)], [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
  assert.equal(topic.length, 26);
});

test('PartitionChangeRecord writes only changed fields as tagged fields', () => {
  const unchanged = encodeRecords([partitionChangeRecord({ partitionId: 0, topicId: ID })]);
  const leaderOnly = encodeRecords([partitionChangeRecord({ partitionId: 0, topicId: ID, leader: 3 })]);
  // leader tag adds: tag(1) size(1) int32(4) = 6 bytes
  assert.equal(leaderOnly.length - unchanged.length, 6);
  const back = decodeRecords(leaderOnly) as MetadataRecord[];
  assert.deepEqual(back[0], partitionChangeRecord({ partitionId: 0, topicId: ID, leader: 3 }));
});

test('REC-2: hostile bytes never throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      const r = decodeRecords(bytes);
      if (Array.isArray(r)) assert.deepEqual(decodeRecords(encodeRecords(r)), r);
      else assert.equal(typeof r.error, 'string');
    }),
    { numRuns: 2000 },
  );
});

test('REC-2: mutated and truncated valid batches never throw', () => {
  fc.assert(
    fc.property(
      fc.array(recordArb, { minLength: 1, maxLength: 4 }),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      fc.boolean(),
      (records, at, value, truncate) => {
        const bytes = encodeRecords(records);
        const i = at % bytes.length;
        const bad = truncate ? bytes.subarray(0, i) : bytes.slice();
        if (!truncate) bad[i] = value;
        const r = decodeRecords(bad);
        if (truncate) assert.ok(!Array.isArray(r), 'a truncated batch must not decode');
        else if (Array.isArray(r)) assert.equal(r.length, records.length);
      },
    ),
    { numRuns: 1000 },
  );
});

test('specific malformations are errors', () => {
  assert.match((decodeRecords(new Uint8Array([])) as { error: string }).error, /truncated/);
  assert.match((decodeRecords(new Uint8Array([9, 0])) as { error: string }).error, /payload format/);
  assert.match((decodeRecords(new Uint8Array([1, 1, 4, 1, 99, 0, 0])) as { error: string }).error, /apiKey 99/);
  assert.match((decodeRecords(new Uint8Array([1, 1, 4, 1, 20, 5, 0])) as { error: string }).error, /version 5/);
  assert.match((decodeRecords(new Uint8Array([1, 1, 4, 2, 20, 0, 0])) as { error: string }).error, /frame version/);
  assert.match((decodeRecords(new Uint8Array([1, 1, 5, 1, 20, 0, 0, 0])) as { error: string }).error, /trailing/);
  // A count far larger than the input must be refused before allocating.
  assert.match((decodeRecords(new Uint8Array([1, 0xff, 0xff, 0xff, 0xff, 0x0f])) as { error: string }).error, /count/);
  // Non-minimal varint.
  assert.match((decodeRecords(new Uint8Array([1, 0x81, 0x00])) as { error: string }).error, /non-minimal/);
});

test('encodeRecords asserts well-formed input (REC-3)', () => {
  assert.throws(() => encodeRecords([topicRecord({ name: 'x', topicId: 'nope' })]), /not a Uuid/);
  assert.throws(() => encodeRecords([{ ...noOpRecord(), type: 'FenceBrokerRecord', apiKey: 7, id: 1, epoch: 2 ** 60 } as MetadataRecord]), /safe integer/);
});

test('REC-3: a string with a lone surrogate is not encodable (UTF-8 would store U+FFFD instead; found in review)', () => {
  assert.equal(isEncodableString('r\uD800'), false);
  assert.equal(isEncodableString('\uDC00x'), false);
  assert.equal(isEncodableString('rack-😀'), true, 'a surrogate pair is a well-formed code point');
  assert.equal(isEncodableString('plain'), true);
});
