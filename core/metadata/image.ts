// The metadata image: the immutable (immer-frozen) state that committed metadata records build,
// and `applyRecords`, the only way it changes. Every node applies the same committed entries in
// the same order, so every node holds the same image at the same offset.
//
// Invariants:
//  META-1  `offset` is the offset of the last applied entry and strictly increases; `epoch` is
//          that entry's epoch and never decreases. The empty image has offset -1, epoch 0.
//  META-2  Applying is total and atomic: a record that does not fit the image (a partition of an
//          unknown topic, a fence with a stale broker epoch, ...) is a controller bug and throws;
//          a batch that throws leaves the image unchanged (immer discards the draft).
//  META-3  `topicIdsByName` and `topicsById` are inverse: same size, each name maps to a topic
//          whose name is that name.
//  META-4  Every partition: replicas distinct and non-empty, isr a subset of replicas, leader
//          either -1 or a member of the isr; partitions of a topic are numbered 0..n-1.
//  META-5  (kept by the controller, checked by `imageInvariantViolations`) every partition
//          leader is a registered, unfenced broker.
//  META-6  `maxBrokerEpoch` is the largest brokerEpoch ever registered (it survives unregister),
//          so a new registration's epoch is always fresh.
// Faults survived: none by itself; its inputs are committed entries (raft checksums them).
import { castDraft, current, enableMapSet, enablePatches, freeze, isDraft, produce, produceWithPatches, type Draft, type Patch } from 'immer';
import {
  type BrokerEndpoint,
  type MetadataRecord,
  type PartitionChangeRecord,
  type PartitionRecord,
  type RegisterBrokerRecord,
  ConfigResourceType,
  NO_LEADER,
  NO_LEADER_CHANGE,
} from './records.ts';
import type { Uuid } from './uuid.ts';

enableMapSet();
enablePatches();

/** The fields of the latest RegisterBrokerRecord (`endPoints` is named `endpoints` here). */
export interface BrokerImage extends Omit<RegisterBrokerRecord, 'type' | 'apiKey' | 'version' | 'endPoints'> {
  readonly endpoints: readonly BrokerEndpoint[];
}

/** A PartitionRecord's fields but its topic's id (PartitionChangeRecords merged in). */
export type PartitionImage = Omit<PartitionRecord, 'type' | 'apiKey' | 'version' | 'topicId'>;

export interface TopicImage {
  readonly name: string;
  readonly topicId: Uuid;
  /** Indexed by partition id (META-4: ids are 0..n-1). */
  readonly partitions: readonly PartitionImage[];
}

export interface MetadataImage {
  /** Offset of the last applied entry, -1 if none (META-1). */
  readonly offset: number;
  /** Epoch of the last applied entry, 0 if none. */
  readonly epoch: number;
  readonly brokers: ReadonlyMap<number, BrokerImage>;
  readonly topicsById: ReadonlyMap<Uuid, TopicImage>;
  readonly topicIdsByName: ReadonlyMap<string, Uuid>;
  /** Keyed by `configResourceKey(resourceType, resourceName)`; inner map: config name -> value. */
  readonly configs: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Finalized feature levels (a level of 0 removes the feature). */
  readonly features: ReadonlyMap<string, number>;
  /** META-6. */
  readonly maxBrokerEpoch: number;
}

export const emptyImage = (): MetadataImage =>
  freeze(
    {
      offset: -1,
      epoch: 0,
      brokers: new Map(),
      topicsById: new Map(),
      topicIdsByName: new Map(),
      configs: new Map(),
      features: new Map(),
      maxBrokerEpoch: -1,
    },
    true,
  );

export const configResourceKey = (resourceType: number, resourceName: string): string => `${resourceType}:${resourceName}`;

/** Code-unit order: locale-free, so every node sorts names the same way. */
export const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export const topicByName = (image: MetadataImage, name: string): TopicImage | undefined => {
  const id = image.topicIdsByName.get(name);
  return id === undefined ? undefined : image.topicsById.get(id);
};

/** `msg` may be a thunk so hot paths do not build strings (array joins) that are never thrown. */
const assert: (cond: unknown, msg: string | (() => string)) => asserts cond = (cond, msg) => {
  if (!cond) throw new Error(`metadata image: ${typeof msg === 'string' ? msg : msg()}`);
};

type DraftImage = Draft<MetadataImage>;

const hasDuplicates = (xs: readonly number[]): boolean => {
  if (xs.length > 16) return new Set(xs).size !== xs.length;
  for (let i = 1; i < xs.length; i++) if (xs.lastIndexOf(xs[i - 1]) !== i - 1) return true;
  return false;
};

const checkPartitionShape = (where: () => string, p: PartitionImage): void => {
  assert(p.replicas.length > 0, () => `${where()}: no replicas`);
  assert(!hasDuplicates(p.replicas), () => `${where()}: duplicate replicas ${p.replicas}`);
  assert(!hasDuplicates(p.isr), () => `${where()}: duplicate isr ${p.isr}`);
  assert(p.isr.every((b) => p.replicas.includes(b)), () => `${where()}: isr ${p.isr} not within replicas ${p.replicas}`);
  assert(p.leader === NO_LEADER || p.isr.includes(p.leader), () => `${where()}: leader ${p.leader} not in isr ${p.isr}`);
};

const replayPartition = (d: DraftImage, rec: PartitionRecord): void => {
  const topic = d.topicsById.get(rec.topicId);
  assert(topic !== undefined, () => `PartitionRecord for unknown topic ${rec.topicId}`);
  const where = () => `${topic.name}-${rec.partitionId}`;
  assert(Number.isInteger(rec.partitionId) && rec.partitionId >= 0 && rec.partitionId <= topic.partitions.length, () => `${where()}: partition id out of sequence`);
  checkPartitionShape(where, rec);
  topic.partitions[rec.partitionId] = castDraft(frozenPartition(rec));
};

const peekPartition = (topic: Draft<TopicImage>, partitionId: number): PartitionImage | undefined => {
  if (!Number.isInteger(partitionId) || partitionId < 0 || partitionId >= topic.partitions.length) return undefined;
  // Reading through the property descriptor returns the stored value without immer creating a
  // draft for it (a plain `[]` read would proxy it, and its arrays on access): partitions are
  // only ever replaced whole, never mutated in place, so the stored value is what we need.
  const p: unknown = Object.getOwnPropertyDescriptor(topic.partitions, partitionId)?.value;
  return (isDraft(p) ? current(p) : p) as PartitionImage;
};

const replayPartitionChange = (d: DraftImage, rec: PartitionChangeRecord): void => {
  const topic = d.topicsById.get(rec.topicId);
  assert(topic !== undefined, () => `PartitionChangeRecord for unknown topic ${rec.topicId}`);
  const prev = peekPartition(topic, rec.partitionId);
  assert(prev !== undefined, () => `PartitionChangeRecord for unknown partition ${topic.name}-${rec.partitionId}`);
  // As Kafka's PartitionRegistration.merge: a leader change bumps the leader epoch; any change
  // bumps the partition epoch. The new partition is built as a plain, frozen object (cheaper
  // than letting immer draft every nested array of every touched partition).
  const leaderChanged = rec.leader !== NO_LEADER_CHANGE;
  assert(!leaderChanged || rec.leader >= NO_LEADER, () => `bad leader ${rec.leader}`);
  const next: PartitionImage = {
    partitionId: prev.partitionId,
    replicas: rec.replicas ?? prev.replicas,
    isr: rec.isr ?? prev.isr,
    removingReplicas: rec.removingReplicas ?? prev.removingReplicas,
    addingReplicas: rec.addingReplicas ?? prev.addingReplicas,
    leader: leaderChanged ? rec.leader : prev.leader,
    leaderRecoveryState: rec.leaderRecoveryState !== -1 ? rec.leaderRecoveryState : prev.leaderRecoveryState,
    leaderEpoch: prev.leaderEpoch + (leaderChanged ? 1 : 0),
    partitionEpoch: prev.partitionEpoch + 1,
  };
  checkPartitionShape(() => `${topic.name}-${rec.partitionId}`, next);
  topic.partitions[rec.partitionId] = castDraft(frozenPartition(next));
};

/** A record's arrays may be shared with the caller: copy them unless already frozen (ours). */
const owned = (xs: readonly number[]): readonly number[] => (Object.isFrozen(xs) ? xs : Object.freeze([...xs]));

/** The PartitionImage fields of `p` (a record's extra fields stay out), deep-frozen. */
const frozenPartition = (p: PartitionImage): PartitionImage =>
  Object.freeze({
    partitionId: p.partitionId,
    replicas: owned(p.replicas),
    isr: owned(p.isr),
    removingReplicas: owned(p.removingReplicas),
    addingReplicas: owned(p.addingReplicas),
    leader: p.leader,
    leaderRecoveryState: p.leaderRecoveryState,
    leaderEpoch: p.leaderEpoch,
    partitionEpoch: p.partitionEpoch,
  });

const replayOne = (d: DraftImage, rec: MetadataRecord): void => {
  switch (rec.type) {
    case 'RegisterBrokerRecord': {
      const old = d.brokers.get(rec.brokerId);
      assert(rec.brokerEpoch > d.maxBrokerEpoch, `broker ${rec.brokerId} epoch ${rec.brokerEpoch} not fresh`);
      assert(old === undefined || rec.brokerEpoch > old.brokerEpoch, `broker ${rec.brokerId} epoch went back`);
      d.brokers.set(rec.brokerId, {
        brokerId: rec.brokerId,
        incarnationId: rec.incarnationId,
        brokerEpoch: rec.brokerEpoch,
        endpoints: rec.endPoints.map((e) => ({ ...e })),
        features: rec.features.map((f) => ({ ...f })),
        rack: rec.rack,
        fenced: rec.fenced,
      });
      d.maxBrokerEpoch = rec.brokerEpoch;
      return;
    }
    case 'UnregisterBrokerRecord': {
      const old = d.brokers.get(rec.brokerId);
      assert(old !== undefined && old.brokerEpoch === rec.brokerEpoch, `unregister of unknown broker ${rec.brokerId}/${rec.brokerEpoch}`);
      d.brokers.delete(rec.brokerId);
      return;
    }
    case 'FenceBrokerRecord':
    case 'UnfenceBrokerRecord': {
      const b = d.brokers.get(rec.id);
      assert(b !== undefined && b.brokerEpoch === rec.epoch, `${rec.type} for unknown broker ${rec.id}/${rec.epoch}`);
      b.fenced = rec.type === 'FenceBrokerRecord';
      return;
    }
    case 'TopicRecord':
      assert(!d.topicIdsByName.has(rec.name), `topic ${rec.name} exists`);
      assert(!d.topicsById.has(rec.topicId), `topic id ${rec.topicId} exists`);
      d.topicsById.set(rec.topicId, { name: rec.name, topicId: rec.topicId, partitions: [] });
      d.topicIdsByName.set(rec.name, rec.topicId);
      return;
    case 'PartitionRecord':
      return replayPartition(d, rec);
    case 'PartitionChangeRecord':
      return replayPartitionChange(d, rec);
    case 'RemoveTopicRecord': {
      const topic = d.topicsById.get(rec.topicId);
      assert(topic !== undefined, `RemoveTopicRecord for unknown topic ${rec.topicId}`);
      d.topicsById.delete(rec.topicId);
      d.topicIdsByName.delete(topic.name);
      // As Kafka's ConfigurationsDelta: a removed topic's configs go with it.
      d.configs.delete(configResourceKey(ConfigResourceType.TOPIC, topic.name));
      return;
    }
    case 'ConfigRecord': {
      const key = configResourceKey(rec.resourceType, rec.resourceName);
      const entries = d.configs.get(key) ?? new Map<string, string>();
      if (rec.value === null) entries.delete(rec.name);
      else entries.set(rec.name, rec.value);
      if (entries.size === 0) d.configs.delete(key);
      else d.configs.set(key, entries);
      return;
    }
    case 'FeatureLevelRecord':
      assert(rec.featureLevel >= 0, `negative feature level ${rec.featureLevel}`);
      if (rec.featureLevel === 0) d.features.delete(rec.name);
      else d.features.set(rec.name, rec.featureLevel);
      return;
    case 'NoOpRecord':
      return;
  }
};

const recipe = (records: readonly MetadataRecord[], offset: number, epoch: number) => (d: DraftImage) => {
  assert(Number.isSafeInteger(offset) && offset > d.offset, () => `offset ${offset} after ${d.offset}`);
  assert(Number.isSafeInteger(epoch) && epoch >= d.epoch, () => `epoch ${epoch} before ${d.epoch}`);
  for (const rec of records) replayOne(d, rec);
  d.offset = offset;
  d.epoch = epoch;
};

/** Applies one committed entry's records (atomically, META-2) and stamps its offset and epoch. */
export const applyRecords = (image: MetadataImage, records: readonly MetadataRecord[], offset: number, epoch: number): MetadataImage =>
  produce(image, recipe(records, offset, epoch));

export interface AppliedEntry {
  readonly image: MetadataImage;
  /** The delta from the previous image, as immer patches (what brokers will consume). */
  readonly patches: readonly Patch[];
}

/** As applyRecords, also returning the patches (the delta). */
export const applyRecordsWithPatches = (
  image: MetadataImage,
  records: readonly MetadataRecord[],
  offset: number,
  epoch: number,
): AppliedEntry => {
  const [next, patches] = produceWithPatches(image, recipe(records, offset, epoch));
  return { image: next, patches };
};

/**
 * Builds an image from scratch out of `records` (a snapshot's contents), stamped with the given
 * offset/epoch/maxBrokerEpoch. Throws, as applyRecords does, if the records do not fit.
 */
export const imageFromRecords = (
  records: readonly MetadataRecord[],
  offset: number,
  epoch: number,
  maxBrokerEpoch: number,
): MetadataImage =>
  produce(emptyImage(), (d) => {
    assert(Number.isSafeInteger(offset) && offset >= -1, `bad offset ${offset}`);
    assert(Number.isSafeInteger(epoch) && epoch >= 0, `bad epoch ${epoch}`);
    for (const rec of records) replayOne(d, rec);
    assert(maxBrokerEpoch >= d.maxBrokerEpoch, `maxBrokerEpoch ${maxBrokerEpoch} below a registered epoch ${d.maxBrokerEpoch}`);
    d.offset = offset;
    d.epoch = epoch;
    d.maxBrokerEpoch = maxBrokerEpoch;
  });

/** Every violated invariant (META-3, META-4, META-5), for tests and simulator checkers. */
export const imageInvariantViolations = (image: MetadataImage): string[] => {
  const out: string[] = [];
  if (image.topicsById.size !== image.topicIdsByName.size) out.push('META-3: index sizes differ');
  for (const [name, id] of image.topicIdsByName) {
    if (image.topicsById.get(id)?.name !== name) out.push(`META-3: ${name} -> ${id} broken`);
  }
  for (const topic of image.topicsById.values()) {
    topic.partitions.forEach((p, i) => {
      if (p === undefined || p.partitionId !== i) {
        out.push(`META-4: ${topic.name} partition ${i} missing or misnumbered`);
        return;
      }
      try {
        checkPartitionShape(() => `${topic.name}-${i}`, p);
      } catch (e) {
        out.push(`META-4: ${(e as Error).message}`);
      }
      if (p.leader !== NO_LEADER) {
        const b = image.brokers.get(p.leader);
        if (b === undefined || b.fenced) out.push(`META-5: ${topic.name}-${i} led by fenced or unknown broker ${p.leader}`);
      }
    });
  }
  return out;
};
