// Test support (fast-check arbitraries) shared by the metadata tests: random well-formed records
// and random controller-operation sequences. Not used by production code.
import fc from 'fast-check';
import type { ControllerCommand } from './controller.ts';
import { type MetadataImage, topicByName } from './image.ts';
import {
  type MetadataRecord,
  configRecord,
  featureLevelRecord,
  fenceBrokerRecord,
  noOpRecord,
  partitionChangeRecord,
  partitionRecord,
  registerBrokerRecord,
  removeTopicRecord,
  topicRecord,
  unfenceBrokerRecord,
  unregisterBrokerRecord,
} from './records.ts';
import { uuidFromBytes } from './uuid.ts';

export const uuidArb = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(uuidFromBytes);
const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const int16 = fc.integer({ min: -32768, max: 32767 });
const int8 = fc.integer({ min: -128, max: 127 });
const int64 = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
const str = fc.string({ maxLength: 20, unit: 'grapheme' });
const ints = fc.array(int32, { maxLength: 6 });
const nullableInts = fc.option(ints, { nil: null });

export const recordArb: fc.Arbitrary<MetadataRecord> = fc.oneof(
  fc
    .record({
      brokerId: int32,
      incarnationId: uuidArb,
      brokerEpoch: int64,
      endPoints: fc.array(fc.record({ name: str, host: str, port: fc.integer({ min: 0, max: 65535 }), securityProtocol: int16 }).map((e) => ({ ...e })), { maxLength: 3 }),
      features: fc.array(fc.record({ name: str, minSupportedVersion: int16, maxSupportedVersion: int16 }).map((f) => ({ ...f })), { maxLength: 3 }),
      rack: fc.option(str, { nil: null }),
      fenced: fc.boolean(),
    })
    .map(registerBrokerRecord),
  fc.record({ brokerId: int32, brokerEpoch: int64 }).map(unregisterBrokerRecord),
  fc.record({ name: str, topicId: uuidArb }).map(topicRecord),
  fc
    .record({
      partitionId: int32, topicId: uuidArb, replicas: ints, isr: ints, removingReplicas: ints, addingReplicas: ints,
      leader: int32, leaderRecoveryState: int8, leaderEpoch: int32, partitionEpoch: int32,
    })
    .map(partitionRecord),
  fc.record({ resourceType: int8, resourceName: str, name: str, value: fc.option(str, { nil: null }) }).map(configRecord),
  fc
    .record({
      partitionId: int32, topicId: uuidArb, isr: nullableInts, leader: int32, replicas: nullableInts,
      removingReplicas: nullableInts, addingReplicas: nullableInts, leaderRecoveryState: int8,
    })
    .map(partitionChangeRecord),
  fc.record({ id: int32, epoch: int64 }).map(fenceBrokerRecord),
  fc.record({ id: int32, epoch: int64 }).map(unfenceBrokerRecord),
  uuidArb.map((topicId) => removeTopicRecord({ topicId })),
  fc.record({ name: str, featureLevel: int16 }).map(featureLevelRecord),
  fc.constant(noOpRecord()),
);

// ---------------------------------------------------------------------------------------------
// Abstract controller operations, resolved against the current image so most of them succeed.

export type Op =
  | { readonly op: 'register'; readonly broker: number; readonly incarnation: number; readonly rack: string | null }
  | { readonly op: 'fence' | 'unfence'; readonly broker: number; readonly stale: boolean }
  | { readonly op: 'unregister'; readonly broker: number }
  | { readonly op: 'create'; readonly topic: number; readonly partitions: number; readonly rf: number; readonly config: boolean }
  | { readonly op: 'delete'; readonly topic: number; readonly byId: boolean }
  | { readonly op: 'alter'; readonly topic: number; readonly partition: number; readonly isrMask: number; readonly stale: boolean };

const BROKERS = 5;
const TOPICS = 4;

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('register' as const), broker: fc.nat(BROKERS - 1), incarnation: fc.nat(2), rack: fc.option(fc.constantFrom('r1', 'r2'), { nil: null }) }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constantFrom('fence' as const, 'unfence' as const), broker: fc.nat(BROKERS - 1), stale: fc.boolean() }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('unregister' as const), broker: fc.nat(BROKERS - 1) }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('create' as const), topic: fc.nat(TOPICS - 1), partitions: fc.integer({ min: 0, max: 4 }), rf: fc.integer({ min: 1, max: 4 }), config: fc.boolean() }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('delete' as const), topic: fc.nat(TOPICS - 1), byId: fc.boolean() }), weight: 1 },
  { arbitrary: fc.record({ op: fc.constant('alter' as const), topic: fc.nat(TOPICS - 1), partition: fc.nat(3), isrMask: fc.nat(31), stale: fc.boolean() }), weight: 3 },
);

const incarnation = (broker: number, n: number): string => (broker * 16 + n + 1).toString(16).padStart(32, '0');

export const resolveOp = (image: MetadataImage, o: Op): ControllerCommand => {
  switch (o.op) {
    case 'register':
      return {
        kind: 'registerBroker', brokerId: o.broker, incarnationId: incarnation(o.broker, o.incarnation),
        endpoints: [{ name: 'PLAINTEXT', host: `b${o.broker}`, port: 9092, securityProtocol: 0 }], rack: o.rack,
      };
    case 'fence':
    case 'unfence': {
      const epoch = image.brokers.get(o.broker)?.brokerEpoch ?? 0;
      return { kind: o.op === 'fence' ? 'fenceBroker' : 'unfenceBroker', brokerId: o.broker, brokerEpoch: o.stale ? epoch - 1 : epoch };
    }
    case 'unregister':
      return { kind: 'unregisterBroker', brokerId: o.broker };
    case 'create':
      return {
        kind: 'createTopic', name: `topic-${o.topic}`, numPartitions: o.partitions, replicationFactor: o.rf,
        configs: o.config ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
      };
    case 'delete': {
      const t = topicByName(image, `topic-${o.topic}`);
      return o.byId && t !== undefined ? { kind: 'deleteTopic', topicId: t.topicId } : { kind: 'deleteTopic', name: `topic-${o.topic}` };
    }
    case 'alter': {
      const names = [...image.topicIdsByName.keys()].sort();
      const t = names.length === 0 ? undefined : topicByName(image, names[o.topic % names.length]);
      const p = t?.partitions[o.partition % Math.max(1, t.partitions.length)];
      if (t === undefined || p === undefined) return { kind: 'alterPartition', topicId: '0'.repeat(31) + '7', partition: 0, partitionEpoch: 0, isr: [0] };
      const isr = p.replicas.filter((_, i) => (o.isrMask >> i) & 1 || p.replicas[i] === p.leader);
      return {
        kind: 'alterPartition', topicId: t.topicId, partition: p.partitionId, partitionEpoch: o.stale ? p.partitionEpoch - 1 : p.partitionEpoch,
        isr, leaderEpoch: p.leaderEpoch, ...(p.leader >= 0 ? { brokerId: p.leader, brokerEpoch: image.brokers.get(p.leader)?.brokerEpoch ?? -1 } : {}),
      };
    }
  }
};

/** Registers and unfences `n` brokers first, so random operations meet a live cluster. */
export const bootstrapOps = (n: number): Op[] =>
  Array.from({ length: n }, (_, broker): Op[] => [
    { op: 'register', broker, incarnation: 0, rack: null },
    { op: 'unfence', broker, stale: false },
  ]).flat();

/** A bootstrap of 2..5 brokers followed by random operations. */
export const opsArb = (maxLength: number): fc.Arbitrary<Op[]> =>
  fc
    .tuple(fc.integer({ min: 2, max: BROKERS }), fc.array(opArb, { minLength: 1, maxLength }))
    .map(([n, ops]) => [...bootstrapOps(n), ...ops]);
