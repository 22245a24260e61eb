import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { makeRng, type Rng } from '../rng.ts';
import { type ControllerCommand, type ControllerResult, handleCommand, handleRead } from './controller.ts';
import { ControllerState } from './controller-state.ts';
import { ErrorCode } from '../errors.ts';
import { type MetadataImage, applyRecords, emptyImage, imageInvariantViolations, topicByName } from './image.ts';
import { decodeRecords, encodeRecords } from './records.ts';

const inc = (n: number): string => n.toString(16).padStart(32, '0');
const ep = (id: number) => [{ name: 'PLAINTEXT', host: `b${id}`, port: 9092 + id, securityProtocol: 0 }];

/** Runs a command and applies its records at the next offset; asserts it succeeded. */
const run = (image: MetadataImage, cmd: ControllerCommand, rng: Rng = makeRng(1)): [MetadataImage, ControllerResult & { ok: true }] => {
  const r = handleCommand(image, cmd, rng);
  assert.ok(r.ok, `command failed: ${JSON.stringify(r)}`);
  const next = applyRecords(image, r.records, image.offset + 1, 1);
  assert.deepEqual(imageInvariantViolations(next), []);
  return [next, r];
};

const errorOf = (image: MetadataImage, cmd: ControllerCommand): number => {
  const r = handleCommand(image, cmd, makeRng(1));
  assert.ok(!r.ok, `expected an error from ${JSON.stringify(cmd)}`);
  return r.errorCode;
};

/** n registered, unfenced brokers 0..n-1. */
const cluster = (n: number): MetadataImage => {
  let image = emptyImage();
  for (let id = 0; id < n; id++) {
    const [reg, r] = run(image, { kind: 'registerBroker', brokerId: id, incarnationId: inc(id + 1), endpoints: ep(id) });
    assert.equal(r.result.kind, 'registerBroker');
    const epoch = reg.brokers.get(id)!.brokerEpoch;
    [image] = run(reg, { kind: 'unfenceBroker', brokerId: id, brokerEpoch: epoch });
  }
  return image;
};

const partitions = (image: MetadataImage, name: string) => topicByName(image, name)!.partitions;

test('createTopic: records, placement, ids and reads', () => {
  const image0 = cluster(3);
  const [image, r] = run(image0, { kind: 'createTopic', name: 'orders', numPartitions: 4, replicationFactor: 2, configs: [{ name: 'retention.ms', value: '1000' }] }, makeRng(7));
  assert.deepEqual(r.records.map((x) => x.type), ['TopicRecord', 'PartitionRecord', 'PartitionRecord', 'PartitionRecord', 'PartitionRecord', 'ConfigRecord']);
  assert.equal(r.result.kind, 'createTopic');
  const ps = partitions(image, 'orders');
  assert.equal(ps.length, 4);
  for (const p of ps) {
    assert.equal(p.replicas.length, 2);
    assert.deepEqual(p.isr, p.replicas);
    assert.equal(p.leader, p.replicas[0]);
    assert.equal(p.leaderEpoch, 0);
  }
  // Round-robin: consecutive partitions start at consecutive brokers.
  assert.equal((ps[1].replicas[0] - ps[0].replicas[0] + 3) % 3, 1);
  // Same rng seed -> same records (the leader's choice is reproducible); different seed -> new id.
  const again = handleCommand(image0, { kind: 'createTopic', name: 'orders', numPartitions: 4, replicationFactor: 2, configs: [{ name: 'retention.ms', value: '1000' }] }, makeRng(7));
  assert.deepEqual(again, r);
  const other = handleCommand(image0, { kind: 'createTopic', name: 'orders', numPartitions: 4, replicationFactor: 2 }, makeRng(8));
  assert.ok(other.ok && other.result.kind === 'createTopic' && r.result.kind === 'createTopic' && other.result.topicId !== r.result.topicId);
  assert.equal(image.configs.get('2:orders')?.get('retention.ms'), '1000');

  const d = handleRead(image, { kind: 'describeTopic', name: 'orders' });
  assert.ok(d.ok && d.result.kind === 'describeTopic' && d.result.partitions.length === 4);
  const l = handleRead(image, { kind: 'listTopics' });
  assert.ok(l.ok && l.result.kind === 'listTopics');
  assert.deepEqual(l.result.topics.map((t) => t.name), ['orders']);
  const c = handleRead(image, { kind: 'describeCluster' });
  assert.ok(c.ok && c.result.kind === 'describeCluster');
  assert.deepEqual(c.result.brokers.map((b) => b.brokerId), [0, 1, 2]);
  const missing = handleRead(image, { kind: 'describeTopic', name: 'nope' });
  assert.ok(!missing.ok && missing.errorCode === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  const missingId = handleRead(image, { kind: 'describeTopicById', topicId: inc(99) });
  assert.ok(!missingId.ok && missingId.errorCode === ErrorCode.UNKNOWN_TOPIC_ID);
});

test('createTopic validation and error codes', () => {
  const image = cluster(3);
  const create = (name: string, numPartitions = 1, replicationFactor = 1): ControllerCommand => ({ kind: 'createTopic', name, numPartitions, replicationFactor });
  for (const bad of ['', '.', '..', 'a b', 'x/y', 'ü', 'a'.repeat(250)]) assert.equal(errorOf(image, create(bad)), ErrorCode.INVALID_TOPIC_EXCEPTION, bad);
  const [withTopic] = run(image, create('a.b'));
  run(image, create('a'.repeat(249)));
  run(image, create('__proto__'));
  assert.equal(errorOf(withTopic, create('a.b')), ErrorCode.TOPIC_ALREADY_EXISTS);
  assert.equal(errorOf(withTopic, create('a_b')), ErrorCode.INVALID_TOPIC_EXCEPTION, 'collides on . vs _');
  assert.equal(errorOf(image, create('t', 0)), ErrorCode.INVALID_PARTITIONS);
  assert.equal(errorOf(image, create('t', -1)), ErrorCode.INVALID_PARTITIONS);
  assert.equal(errorOf(image, create('t', 1.5)), ErrorCode.INVALID_PARTITIONS);
  assert.equal(errorOf(image, create('t', 10_001)), ErrorCode.INVALID_PARTITIONS);
  assert.equal(errorOf(image, create('t', 1, 0)), ErrorCode.INVALID_REPLICATION_FACTOR);
  assert.equal(errorOf(image, create('t', 1, 4)), ErrorCode.INVALID_REPLICATION_FACTOR);
  assert.equal(errorOf(emptyImage(), create('t', 1, 1)), ErrorCode.INVALID_REPLICATION_FACTOR);
  // Fenced brokers do not count.
  const [fenced] = run(image, { kind: 'fenceBroker', brokerId: 2, brokerEpoch: image.brokers.get(2)!.brokerEpoch });
  assert.equal(errorOf(fenced, create('t', 1, 3)), ErrorCode.INVALID_REPLICATION_FACTOR);
  const [, ok] = run(fenced, create('t', 6, 2));
  assert.ok(ok.records.every((r) => r.type !== 'PartitionRecord' || !r.replicas.includes(2)));
  assert.equal(errorOf(image, { kind: 'createTopic', name: 't', numPartitions: 1, replicationFactor: 1, configs: [{ name: 'a', value: '1' }, { name: 'a', value: '2' }] }), ErrorCode.INVALID_REQUEST);
});

test('strings longer than the record format allows are refused with an error code, never encoded', () => {
  const huge = 'x'.repeat(40_000); // > MAX_STRING_BYTES (32767): encodeRecords would throw
  const wide = '\u20ac'.repeat(11_000); // 11,000 UTF-16 units, 33,000 UTF-8 bytes
  const image = cluster(3);
  const bad: ControllerCommand[] = [
    { kind: 'registerBroker', brokerId: 7, incarnationId: inc(7), endpoints: [{ ...ep(7)[0]!, host: huge }] },
    { kind: 'registerBroker', brokerId: 7, incarnationId: inc(7), endpoints: [{ ...ep(7)[0]!, name: wide }] },
    { kind: 'registerBroker', brokerId: 7, incarnationId: inc(7), endpoints: ep(7), rack: huge },
    { kind: 'registerBroker', brokerId: 7, incarnationId: inc(7), endpoints: ep(7), features: [{ name: huge, minSupportedVersion: 0, maxSupportedVersion: 1 }] },
  ];
  for (const cmd of bad) assert.equal(errorOf(image, cmd), ErrorCode.INVALID_REQUEST);
  const topic = (configs: { name: string; value: string }[]): ControllerCommand => ({ kind: 'createTopic', name: 't', numPartitions: 1, replicationFactor: 1, configs });
  assert.equal(errorOf(image, topic([{ name: huge, value: '1' }])), ErrorCode.INVALID_CONFIG);
  assert.equal(errorOf(image, topic([{ name: 'cleanup.policy', value: wide }])), ErrorCode.INVALID_CONFIG);
  // At the limit the command is accepted and its records encode.
  const [, ok] = run(image, { kind: 'registerBroker', brokerId: 7, incarnationId: inc(7), endpoints: ep(7), rack: 'r'.repeat(32_767) });
  assert.equal(ok.result.kind, 'registerBroker');
  assert.ok(encodeRecords(ok.records).length > 32_767);
});

test('deleteTopic by name and id', () => {
  const [image, created] = run(cluster(1), { kind: 'createTopic', name: 't', numPartitions: 2, replicationFactor: 1, configs: [{ name: 'k', value: 'v' }] });
  assert.ok(created.result.kind === 'createTopic');
  const topicId = created.result.topicId;
  assert.equal(errorOf(image, { kind: 'deleteTopic', name: 'u' }), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal(errorOf(image, { kind: 'deleteTopic', topicId: inc(5) }), ErrorCode.UNKNOWN_TOPIC_ID);
  assert.equal(errorOf(image, { kind: 'deleteTopic', topicId: 'garbage' }), ErrorCode.UNKNOWN_TOPIC_ID);
  assert.equal(errorOf(image, { kind: 'deleteTopic' }), ErrorCode.INVALID_REQUEST);
  for (const cmd of [{ kind: 'deleteTopic', name: 't' }, { kind: 'deleteTopic', topicId }] as const) {
    const [after, r] = run(image, cmd);
    assert.deepEqual(r.records, [{ type: 'RemoveTopicRecord', apiKey: 9, version: 0, topicId }]);
    assert.equal(after.topicsById.size, 0);
    assert.equal(after.topicIdsByName.size, 0);
    assert.equal(after.configs.size, 0, 'topic configs go with the topic');
  }
});

test('registerBroker: fenced on register, epochs from a counter, duplicate registration', () => {
  const [a, r0] = run(emptyImage(), { kind: 'registerBroker', brokerId: 1, incarnationId: inc(1), endpoints: ep(1), rack: 'r1' });
  assert.deepEqual(r0.result, { kind: 'registerBroker', brokerId: 1, brokerEpoch: 0 });
  assert.equal(a.brokers.get(1)!.fenced, true);
  assert.equal(a.brokers.get(1)!.rack, 'r1');
  // A fenced broker may be replaced by a new incarnation; the epoch moves on.
  const [b, r1] = run(a, { kind: 'registerBroker', brokerId: 1, incarnationId: inc(2), endpoints: ep(1) });
  assert.deepEqual(r1.result, { kind: 'registerBroker', brokerId: 1, brokerEpoch: 1 });
  const [c] = run(b, { kind: 'unfenceBroker', brokerId: 1, brokerEpoch: 1 });
  assert.equal(errorOf(c, { kind: 'registerBroker', brokerId: 1, incarnationId: inc(3), endpoints: ep(1) }), ErrorCode.DUPLICATE_BROKER_REGISTRATION);
  // The same incarnation may re-register (a retry or a restart with the same id): new epoch, fenced.
  const [d, r2] = run(c, { kind: 'registerBroker', brokerId: 1, incarnationId: inc(2), endpoints: ep(1) });
  assert.deepEqual(r2.result, { kind: 'registerBroker', brokerId: 1, brokerEpoch: 2 });
  assert.equal(d.brokers.get(1)!.fenced, true);
  // Epochs never repeat, even across unregister (META-6).
  const [e] = run(d, { kind: 'unregisterBroker', brokerId: 1 });
  const [, r3] = run(e, { kind: 'registerBroker', brokerId: 1, incarnationId: inc(4), endpoints: ep(1) });
  assert.ok(r3.result.kind === 'registerBroker' && r3.result.brokerEpoch === 3);
  assert.equal(errorOf(a, { kind: 'registerBroker', brokerId: -1, incarnationId: inc(1), endpoints: [] }), ErrorCode.INVALID_REQUEST);
  assert.equal(errorOf(a, { kind: 'registerBroker', brokerId: 2, incarnationId: 'xyz', endpoints: [] }), ErrorCode.INVALID_REQUEST);
  assert.equal(errorOf(a, { kind: 'registerBroker', brokerId: 2, incarnationId: inc(1), endpoints: [{ ...ep(2)[0], port: 70000 }] }), ErrorCode.INVALID_REQUEST);
  assert.equal(errorOf(a, { kind: 'unregisterBroker', brokerId: 9 }), ErrorCode.BROKER_ID_NOT_REGISTERED);
});

test('fence moves leadership and shrinks ISRs; unfence restores leaderless partitions (CTRL-4, CTRL-5)', () => {
  let [image] = run(cluster(3), { kind: 'createTopic', name: 't', numPartitions: 3, replicationFactor: 2 }, makeRng(0));
  const epochOf = (id: number) => image.brokers.get(id)!.brokerEpoch;
  assert.equal(errorOf(image, { kind: 'fenceBroker', brokerId: 7, brokerEpoch: 0 }), ErrorCode.BROKER_ID_NOT_REGISTERED);
  assert.equal(errorOf(image, { kind: 'fenceBroker', brokerId: 0, brokerEpoch: epochOf(0) + 5 }), ErrorCode.STALE_BROKER_EPOCH);
  const before = partitions(image, 't');
  const led = before.filter((p) => p.leader === 0).map((p) => p.partitionId);
  const member = before.filter((p) => p.isr.includes(0)).map((p) => p.partitionId);
  let r;
  [image, r] = run(image, { kind: 'fenceBroker', brokerId: 0, brokerEpoch: epochOf(0) });
  assert.equal(r.records[0].type, 'FenceBrokerRecord');
  assert.ok(r.result.kind === 'fenceBroker' && r.result.partitionsChanged === member.length);
  for (const p of partitions(image, 't')) {
    assert.ok(!p.isr.includes(0), `0 left the ISR of ${p.partitionId}`);
    assert.notEqual(p.leader, 0);
    const b = before[p.partitionId];
    if (led.includes(p.partitionId)) {
      assert.equal(p.leaderEpoch, b.leaderEpoch + 1);
      assert.equal(p.leader, b.replicas.find((x) => x !== 0));
    } else assert.equal(p.leaderEpoch, b.leaderEpoch);
    assert.equal(p.partitionEpoch, b.partitionEpoch + (member.includes(p.partitionId) ? 1 : 0));
  }
  // Fencing again changes nothing.
  const again = handleCommand(image, { kind: 'fenceBroker', brokerId: 0, brokerEpoch: epochOf(0) }, makeRng(1));
  assert.ok(again.ok && again.records.length === 0);
  // Fence everything: last ISR members stay, partitions go leaderless.
  [image] = run(image, { kind: 'fenceBroker', brokerId: 1, brokerEpoch: epochOf(1) });
  [image] = run(image, { kind: 'fenceBroker', brokerId: 2, brokerEpoch: epochOf(2) });
  for (const p of partitions(image, 't')) {
    assert.equal(p.leader, -1);
    assert.equal(p.isr.length, 1);
  }
  // Unfencing a last ISR member makes it leader again.
  const lastOf2 = partitions(image, 't').filter((p) => p.isr[0] === 2).map((p) => p.partitionId);
  [image, r] = run(image, { kind: 'unfenceBroker', brokerId: 2, brokerEpoch: epochOf(2) });
  assert.equal(r.records.length, 1 + lastOf2.length);
  for (const p of partitions(image, 't')) assert.equal(p.leader, lastOf2.includes(p.partitionId) ? 2 : -1);
});

test('alterPartition: epochs, membership and leadership checks', () => {
  const [image, created] = run(cluster(3), { kind: 'createTopic', name: 't', numPartitions: 1, replicationFactor: 3 }, makeRng(0));
  assert.ok(created.result.kind === 'createTopic');
  const topicId = created.result.topicId;
  const p = partitions(image, 't')[0];
  const leader = p.leader;
  const follower = p.replicas.find((x) => x !== leader)!;
  const base = { kind: 'alterPartition', topicId, partition: 0, partitionEpoch: p.partitionEpoch, leaderEpoch: p.leaderEpoch, brokerId: leader, brokerEpoch: image.brokers.get(leader)!.brokerEpoch } as const;
  const shrink = [leader];
  assert.equal(errorOf(image, { ...base, isr: shrink, partitionEpoch: p.partitionEpoch + 1 }), ErrorCode.INVALID_UPDATE_VERSION);
  assert.equal(errorOf(image, { ...base, isr: shrink, leaderEpoch: p.leaderEpoch - 1 }), ErrorCode.FENCED_LEADER_EPOCH);
  assert.equal(errorOf(image, { ...base, isr: shrink, brokerId: follower, brokerEpoch: image.brokers.get(follower)!.brokerEpoch }), ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.equal(errorOf(image, { ...base, isr: shrink, brokerEpoch: 99 }), ErrorCode.STALE_BROKER_EPOCH);
  assert.equal(errorOf(image, { ...base, isr: shrink, topicId: inc(42) }), ErrorCode.UNKNOWN_TOPIC_ID);
  assert.equal(errorOf(image, { ...base, isr: shrink, partition: 1 }), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  assert.equal(errorOf(image, { ...base, isr: [] }), ErrorCode.INVALID_REQUEST);
  assert.equal(errorOf(image, { ...base, isr: [leader, leader] }), ErrorCode.INVALID_REQUEST);
  assert.equal(errorOf(image, { ...base, isr: [leader, 9] }), ErrorCode.INVALID_REQUEST);
  assert.equal(errorOf(image, { ...base, isr: [follower] }), ErrorCode.INVALID_REQUEST, 'leader must stay in the ISR');
  const [shrunk, r] = run(image, { ...base, isr: shrink });
  assert.equal(r.records.length, 1);
  const q = partitions(shrunk, 't')[0];
  assert.deepEqual(q.isr, shrink);
  assert.equal(q.partitionEpoch, p.partitionEpoch + 1);
  assert.equal(q.leaderEpoch, p.leaderEpoch, 'an ISR change keeps the leader epoch');
  assert.deepEqual(r.result, { kind: 'alterPartition', topicId, partition: 0, leader, leaderEpoch: q.leaderEpoch, isr: shrink, partitionEpoch: q.partitionEpoch });
  // The old partition epoch is now stale.
  assert.equal(errorOf(shrunk, { ...base, isr: p.isr }), ErrorCode.INVALID_UPDATE_VERSION);
  // Expanding with a fenced broker is refused.
  const [fenced] = run(shrunk, { kind: 'fenceBroker', brokerId: follower, brokerEpoch: shrunk.brokers.get(follower)!.brokerEpoch });
  assert.equal(errorOf(fenced, { ...base, partitionEpoch: q.partitionEpoch, isr: [leader, follower] }), ErrorCode.INELIGIBLE_REPLICA);
  // Moving leadership explicitly bumps the leader epoch.
  const other = p.replicas.find((x) => x !== leader && x !== follower)!;
  const [grown] = run(shrunk, { ...base, partitionEpoch: q.partitionEpoch, isr: [leader, other] });
  const g = partitions(grown, 't')[0];
  const [moved] = run(grown, { kind: 'alterPartition', topicId, partition: 0, partitionEpoch: g.partitionEpoch, isr: [leader, other], leader: other });
  assert.equal(partitions(moved, 't')[0].leader, other);
  assert.equal(partitions(moved, 't')[0].leaderEpoch, g.leaderEpoch + 1);
  assert.equal(errorOf(grown, { ...base, partitionEpoch: g.partitionEpoch, isr: [leader, other], leader: other }), ErrorCode.INVALID_REQUEST, 'brokers cannot move leadership');
  // No change: no records.
  const same = handleCommand(grown, { ...base, partitionEpoch: g.partitionEpoch, isr: [...g.isr] }, makeRng(1));
  assert.ok(same.ok && same.records.length === 0);
});

test('ControllerState: validates against pending proposals, rebases on commit, drops on loss', () => {
  const committed0 = cluster(2);
  const state = new ControllerState(committed0);
  const rng = makeRng(3);
  const create: ControllerCommand = { kind: 'createTopic', name: 't', numPartitions: 1, replicationFactor: 1 };
  const r1 = state.handle(create, rng);
  assert.ok(r1.ok);
  const base = committed0.offset;
  state.onProposed(base + 1, 2, r1.records);
  // The same topic again, before the first commits: refused by the speculative image.
  const r2 = state.handle(create, rng);
  assert.ok(!r2.ok && r2.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS);
  assert.equal(state.committed.topicsById.size, 0);
  const r3 = state.handle({ ...create, name: 'u' }, rng);
  assert.ok(r3.ok);
  state.onProposed(base + 2, 2, r3.records);
  assert.equal(state.pending.length, 2);
  // The first commits.
  state.onCommitted(applyRecords(committed0, r1.records, base + 1, 2));
  assert.equal(state.pending.length, 1);
  assert.equal(state.pendingImage.topicIdsByName.size, 2);
  assert.equal(state.committed.topicIdsByName.size, 1);
  // A new leader overwrote offset base+2 with its own entry: our proposal is gone.
  const theirs = applyRecords(state.committed, [], base + 2, 3);
  state.onCommitted(theirs);
  assert.equal(state.pending.length, 0);
  assert.equal(state.pendingImage, theirs);
  // Explicit leadership loss.
  const r4 = state.handle({ ...create, name: 'v' }, rng);
  assert.ok(r4.ok);
  state.onProposed(base + 3, 3, r4.records);
  state.onLeadershipLost();
  assert.equal(state.pending.length, 0);
  assert.equal(state.pendingImage.topicIdsByName.has('v'), false);
});

test('hostile command fields give error codes, never throws, never records that do not apply', () => {
  const image = cluster(3);
  const [withTopic, created] = run(image, { kind: 'createTopic', name: 't', numPartitions: 2, replicationFactor: 2 });
  assert.ok(created.result.kind === 'createTopic');
  const weird = fc.oneof(
    fc.constantFrom(NaN, Infinity, -Infinity, -1, 0, 1, 2, 2 ** 31, -(2 ** 31) - 1, 1.5, Number.MAX_SAFE_INTEGER, created.result.topicId),
    fc.string({ maxLength: 5 }),
    fc.constant(undefined),
    fc.constant(null),
    fc.array(fc.integer({ min: -2, max: 4 }), { maxLength: 4 }),
  );
  const cmdArb = fc
    .record({
      kind: fc.constantFrom('createTopic', 'deleteTopic', 'registerBroker', 'unregisterBroker', 'fenceBroker', 'unfenceBroker', 'alterPartition', 'noOp'),
      name: weird, topicId: weird, numPartitions: weird, replicationFactor: weird, brokerId: weird, brokerEpoch: weird,
      incarnationId: weird, partition: weird, partitionEpoch: weird, leaderEpoch: weird, isr: weird, leader: weird,
      endpoints: fc.oneof(fc.constant([]), weird, fc.constant([null])), features: fc.oneof(weird, fc.constant([null])), configs: fc.oneof(weird, fc.constant([null]), fc.constant([{ name: 'a', value: 'b' }])), rack: weird,
    }, { requiredKeys: ['kind'] })
    .map((c) => c as unknown as ControllerCommand);
  fc.assert(
    fc.property(cmdArb, (cmd) => {
      for (const img of [image, withTopic]) {
        const r = handleCommand(img, cmd, makeRng(1));
        if (r.ok) {
          applyRecords(img, r.records, img.offset + 1, 1);
          assert.deepEqual(decodeRecords(encodeRecords(r.records)), r.records);
        }
        else assert.ok(Number.isInteger(r.errorCode) && r.errorCode > 0);
      }
    }),
    { numRuns: 3000 },
  );
});
