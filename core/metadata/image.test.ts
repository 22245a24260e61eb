import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyRecords, applyRecordsWithPatches, emptyImage, imageInvariantViolations, topicByName } from './image.ts';
import {
  configRecord,
  featureLevelRecord,
  fenceBrokerRecord,
  partitionChangeRecord,
  partitionRecord,
  registerBrokerRecord,
  removeTopicRecord,
  topicRecord,
} from './records.ts';

const T = 'aa'.repeat(16);
const broker = (brokerId: number, brokerEpoch: number) =>
  registerBrokerRecord({ brokerId, incarnationId: '0'.repeat(31) + '1', brokerEpoch, endPoints: [], features: [], rack: null, fenced: false });
const part = (partitionId: number, replicas: number[], leader = replicas[0]) =>
  partitionRecord({ partitionId, topicId: T, replicas, isr: replicas, removingReplicas: [], addingReplicas: [], leader, leaderRecoveryState: 0, leaderEpoch: 0, partitionEpoch: 0 });

test('apply builds the image and stamps offset/epoch (META-1)', () => {
  const image = applyRecords(emptyImage(), [broker(1, 0), broker(2, 1), topicRecord({ name: 't', topicId: T }), part(0, [1, 2]), part(1, [2, 1])], 0, 1);
  assert.equal(image.offset, 0);
  assert.equal(image.epoch, 1);
  assert.equal(image.maxBrokerEpoch, 1);
  assert.equal(topicByName(image, 't')!.partitions.length, 2);
  assert.ok(Object.isFrozen(image) && Object.isFrozen(topicByName(image, 't')!.partitions[0]), 'immer freezes the image');
  assert.deepEqual(imageInvariantViolations(image), []);
  const next = applyRecords(image, [partitionChangeRecord({ topicId: T, partitionId: 0, isr: [2], leader: 2 })], 5, 1);
  const p = topicByName(next, 't')!.partitions[0];
  assert.deepEqual([p.leader, p.leaderEpoch, p.partitionEpoch, p.isr], [2, 1, 1, [2]]);
  assert.equal(topicByName(next, 't')!.partitions[1], topicByName(image, 't')!.partitions[1], 'structural sharing');
  assert.throws(() => applyRecords(next, [], 5, 1), /offset/);
  assert.throws(() => applyRecords(next, [], 6, 0), /epoch/);
});

test('records that do not fit the image are asserted, atomically (META-2)', () => {
  const base = applyRecords(emptyImage(), [broker(1, 0), topicRecord({ name: 't', topicId: T }), part(0, [1])], 0, 1);
  const bad = [
    [part(0, [1]).topicId === T ? partitionRecord({ ...part(0, [1]), topicId: 'bb'.repeat(16) }) : part(0, [1])],
    [part(2, [1])],
    [partitionChangeRecord({ topicId: T, partitionId: 3, leader: 1 })],
    [partitionChangeRecord({ topicId: T, partitionId: 0, isr: [5] })],
    [partitionChangeRecord({ topicId: T, partitionId: 0, isr: [], leader: 1 })],
    [topicRecord({ name: 't', topicId: 'cc'.repeat(16) })],
    [topicRecord({ name: 'u', topicId: T })],
    [removeTopicRecord({ topicId: 'dd'.repeat(16) })],
    [fenceBrokerRecord({ id: 1, epoch: 7 })],
    [broker(2, 0)],
    [featureLevelRecord({ name: 'x', featureLevel: -1 })],
  ];
  for (const records of bad) {
    // A good record first: it must not survive the failed batch.
    assert.throws(() => applyRecords(base, [configRecord({ resourceType: 4, resourceName: '1', name: 'k', value: 'v' }), ...records], 1, 1), /metadata image/);
  }
  assert.equal(base.configs.size, 0);
});

test('configs, features and topic removal', () => {
  let image = applyRecords(emptyImage(), [broker(1, 0), topicRecord({ name: 't', topicId: T }), part(0, [1])], 0, 1);
  image = applyRecords(image, [
    configRecord({ resourceType: 2, resourceName: 't', name: 'a', value: '1' }),
    configRecord({ resourceType: 4, resourceName: '1', name: 'b', value: '2' }),
    featureLevelRecord({ name: 'metadata.version', featureLevel: 7 }),
  ], 1, 1);
  assert.equal(image.configs.size, 2);
  assert.equal(image.features.get('metadata.version'), 7);
  const { image: removed, patches } = applyRecordsWithPatches(image, [
    removeTopicRecord({ topicId: T }),
    configRecord({ resourceType: 4, resourceName: '1', name: 'b', value: null }),
    featureLevelRecord({ name: 'metadata.version', featureLevel: 0 }),
  ], 2, 2);
  assert.equal(removed.topicsById.size, 0);
  assert.equal(removed.configs.size, 0);
  assert.equal(removed.features.size, 0);
  assert.ok(patches.some((p) => p.path[0] === 'topicsById' && p.op === 'remove'), JSON.stringify(patches));
});
