// The controller's command handling: pure functions from (image, command) to the records to
// propose, or a Kafka error. Nothing here changes state; the node proposes the records through
// raft and every node applies them when committed (image.ts).
//
// Validate against the right image: two proposals can be in flight before the first commits, so
// the leader must validate each command against the committed image plus its own uncommitted
// proposals (ControllerState in controller-state.ts keeps that speculative image).
//
// Invariants:
//  CTRL-1  handleCommand is a pure function of (image, command, rng state); replicas never call
//          it, and every random choice (topic ids, placement) travels inside the records.
//  CTRL-2  On `ok`, applying `records` to `image` succeeds (never trips META-2) and keeps META-5:
//          leaders are registered, unfenced brokers.
//  CTRL-3  Broker epochs come from a counter: a registration gets image.maxBrokerEpoch + 1 (not
//          the record's log offset as in Kafka); so epochs are unique and increase (META-6).
//  CTRL-4  A broker that is fenced (or re-registers, or unregisters) leaves every ISR it is in,
//          except as the last member (then the partition keeps it and goes leaderless, as KRaft
//          does, so a clean election stays possible when it returns); a partition it led moves to
//          the first replica in preference order that is in the new ISR and unfenced, else -1.
//  CTRL-5  Unfencing a broker makes it leader of the leaderless partitions whose ISR holds it.
// Faults survived: hostile command fields (from the wire) yield error codes, never throws.
import { type Rng, nextInt } from '../rng.ts';
import { isEncodableString, isInt16, isInt32, isUint16, MAX_STRING_BYTES } from './byte-codec.ts';
import { ErrorCode } from '../errors.ts';
import { type BrokerImage, type MetadataImage, type PartitionImage, type TopicImage, compareStrings, topicByName } from './image.ts';
import {
  type BrokerEndpoint,
  type BrokerFeature,
  type MetadataRecord,
  ConfigResourceType,
  configRecord,
  fenceBrokerRecord,
  NO_LEADER,
  noOpRecord,
  partitionChangeRecord,
  partitionRecord,
  registerBrokerRecord,
  removeTopicRecord,
  topicRecord,
  unfenceBrokerRecord,
  unregisterBrokerRecord,
} from './records.ts';
import { type Uuid, isUuid, ONE_UUID, uuidFromWords, ZERO_UUID } from './uuid.ts';

export const MAX_TOPIC_NAME_LENGTH = 249;
/** Bounds the records one CreateTopics produces (Kafka has no hard cap; we need one). */
export const MAX_PARTITIONS_PER_TOPIC = 10_000;
export const MAX_CONFIGS_PER_TOPIC = 1_000;
const MAX_TOPIC_ID_DRAWS = 16;

// ---------------------------------------------------------------------------------------------
// Commands, queries and results (plain data)

export interface TopicConfigEntry {
  readonly name: string;
  readonly value: string;
}

export type ControllerCommand =
  | {
      readonly kind: 'createTopic';
      readonly name: string;
      /** Concrete values: the node resolves CreateTopics' -1 ("broker default") before this. */
      readonly numPartitions: number;
      readonly replicationFactor: number;
      readonly configs?: readonly TopicConfigEntry[];
    }
  /** By topicId if given, else by name. */
  | { readonly kind: 'deleteTopic'; readonly name?: string; readonly topicId?: Uuid }
  | {
      readonly kind: 'registerBroker';
      readonly brokerId: number;
      readonly incarnationId: Uuid;
      readonly endpoints: readonly BrokerEndpoint[];
      readonly rack?: string | null;
      readonly features?: readonly BrokerFeature[];
    }
  | { readonly kind: 'unregisterBroker'; readonly brokerId: number }
  | { readonly kind: 'fenceBroker'; readonly brokerId: number; readonly brokerEpoch: number }
  | { readonly kind: 'unfenceBroker'; readonly brokerId: number; readonly brokerEpoch: number }
  | {
      readonly kind: 'alterPartition';
      readonly topicId: Uuid;
      readonly partition: number;
      /** The partition epoch the sender last saw (INVALID_UPDATE_VERSION if stale). */
      readonly partitionEpoch: number;
      readonly isr: readonly number[];
      /** New leader; omitted keeps the current leader. */
      readonly leader?: number;
      /** The sender (AlterPartition's BrokerId/BrokerEpoch); when given it must be the leader. */
      readonly brokerId?: number;
      readonly brokerEpoch?: number;
      /** The leader epoch the sender holds (FENCED_LEADER_EPOCH if not current). */
      readonly leaderEpoch?: number;
    }
  /** What a new raft leader proposes first. */
  | { readonly kind: 'noOp' };

export interface PartitionState {
  readonly topicId: Uuid;
  readonly partition: number;
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly isr: readonly number[];
  readonly partitionEpoch: number;
}

export type CommandResult =
  | { readonly kind: 'createTopic'; readonly name: string; readonly topicId: Uuid; readonly numPartitions: number; readonly replicationFactor: number }
  | { readonly kind: 'deleteTopic'; readonly name: string; readonly topicId: Uuid }
  | { readonly kind: 'registerBroker'; readonly brokerId: number; readonly brokerEpoch: number }
  | { readonly kind: 'unregisterBroker'; readonly brokerId: number }
  | { readonly kind: 'fenceBroker' | 'unfenceBroker'; readonly brokerId: number; readonly brokerEpoch: number; readonly partitionsChanged: number }
  | ({ readonly kind: 'alterPartition' } & PartitionState)
  | { readonly kind: 'noOp' };

export interface ControllerError {
  readonly ok: false;
  readonly errorCode: number;
  readonly message: string;
}

/** `records` may be empty: the command changes nothing (e.g. fencing a fenced broker). */
export type ControllerResult =
  | { readonly ok: true; readonly records: readonly MetadataRecord[]; readonly result: CommandResult }
  | ControllerError;

export type ControllerQuery =
  | { readonly kind: 'describeTopic'; readonly name: string }
  | { readonly kind: 'describeTopicById'; readonly topicId: Uuid }
  | { readonly kind: 'listTopics' }
  | { readonly kind: 'describeCluster' };

export interface TopicListing {
  readonly name: string;
  readonly topicId: Uuid;
  readonly numPartitions: number;
}

export type QueryResult =
  | { readonly kind: 'describeTopic'; readonly name: string; readonly topicId: Uuid; readonly partitions: readonly PartitionImage[] }
  | { readonly kind: 'listTopics'; readonly topics: readonly TopicListing[] }
  | { readonly kind: 'describeCluster'; readonly brokers: readonly BrokerImage[] };

export type ReadResult = { readonly ok: true; readonly result: QueryResult } | ControllerError;

const fail = (errorCode: number, message: string): ControllerError => ({ ok: false, errorCode, message });

const assert: (cond: unknown, msg: string) => asserts cond = (cond, msg) => {
  if (!cond) throw new Error(`controller: ${msg}`);
};

// ---------------------------------------------------------------------------------------------
// Helpers over the image

/** Unfenced registered broker ids, ascending. */
export const unfencedBrokerIds = (image: MetadataImage): number[] =>
  [...image.brokers.values()].filter((b) => !b.fenced).map((b) => b.brokerId).sort((a, b) => a - b);

/** Topics in name order: every scan that emits records uses it, so record order is canonical. */
const topicsInNameOrder = (image: MetadataImage): TopicImage[] =>
  [...image.topicIdsByName.keys()].sort(compareStrings).map((name) => topicByName(image, name)!);

const usable = (image: MetadataImage, brokerId: number, goneId: number): boolean => {
  if (brokerId === goneId) return false;
  const b = image.brokers.get(brokerId);
  return b !== undefined && !b.fenced;
};

/** CTRL-4: PartitionChangeRecords that take `goneId` out of ISRs and leadership. */
export const leadershipMovesOff = (image: MetadataImage, goneId: number): MetadataRecord[] => {
  const out: MetadataRecord[] = [];
  for (const topic of topicsInNameOrder(image)) {
    for (const p of topic.partitions) {
      if (!p.isr.includes(goneId) && p.leader !== goneId) continue;
      const shrunk = p.isr.filter((b) => b !== goneId);
      const isr = shrunk.length === 0 ? p.isr : shrunk;
      let leader = p.leader;
      if (leader === goneId || (leader !== NO_LEADER && !isr.includes(leader))) {
        leader = p.replicas.find((r) => isr.includes(r) && usable(image, r, goneId)) ?? NO_LEADER;
      }
      if (shrunk.length === 0 && leader !== NO_LEADER) leader = NO_LEADER;
      const isrChanged = isr.length !== p.isr.length;
      if (!isrChanged && leader === p.leader) continue;
      out.push(
        partitionChangeRecord({
          topicId: topic.topicId,
          partitionId: p.partitionId,
          ...(isrChanged ? { isr: [...isr] } : {}),
          ...(leader !== p.leader ? { leader } : {}),
        }),
      );
    }
  }
  return out;
};

/** CTRL-5: leaderless partitions whose ISR holds `brokerId` get it as leader. */
const leadershipMovesOnto = (image: MetadataImage, brokerId: number): MetadataRecord[] => {
  const out: MetadataRecord[] = [];
  for (const topic of topicsInNameOrder(image)) {
    for (const p of topic.partitions) {
      if (p.leader !== NO_LEADER || !p.isr.includes(brokerId)) continue;
      out.push(partitionChangeRecord({ topicId: topic.topicId, partitionId: p.partitionId, leader: brokerId }));
    }
  }
  return out;
};

// ---------------------------------------------------------------------------------------------
// Topics

const LEGAL_TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

/** Kafka's Topic.validate: null when legal, else why not. */
export const topicNameProblem = (name: unknown): string | null => {
  if (typeof name !== 'string' || name.length === 0) return 'Topic name is illegal, it can\'t be empty';
  if (name === '.' || name === '..') return 'Topic name cannot be "." or ".."';
  if (name.length > MAX_TOPIC_NAME_LENGTH) return `Topic name is longer than ${MAX_TOPIC_NAME_LENGTH} characters`;
  if (!LEGAL_TOPIC_NAME.test(name)) return `Topic name "${name}" contains characters other than [a-zA-Z0-9._-]`;
  return null;
};

/** Kafka refuses names that differ from an existing topic's only in '.' vs '_'. */
const collidingTopic = (image: MetadataImage, name: string): string | undefined => {
  const norm = name.replaceAll('.', '_');
  for (const other of image.topicIdsByName.keys()) if (other !== name && other.replaceAll('.', '_') === norm) return other;
  return undefined;
};

const drawTopicId = (image: MetadataImage, rng: Rng): Uuid => {
  for (let i = 0; i < MAX_TOPIC_ID_DRAWS; i++) {
    const word = () => nextInt(rng, 0, 0xffffffff);
    const id = uuidFromWords([word(), word(), word(), word()]);
    if (id !== ZERO_UUID && id !== ONE_UUID && !image.topicsById.has(id)) return id;
  }
  throw new Error('controller: could not draw a fresh topic id (broken rng?)');
};

const createTopic = (image: MetadataImage, cmd: Extract<ControllerCommand, { kind: 'createTopic' }>, rng: Rng): ControllerResult => {
  const problem = topicNameProblem(cmd.name);
  if (problem !== null) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, problem);
  if (image.topicIdsByName.has(cmd.name)) return fail(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${cmd.name}' already exists.`);
  const collision = collidingTopic(image, cmd.name);
  if (collision !== undefined) return fail(ErrorCode.INVALID_TOPIC_EXCEPTION, `Topic '${cmd.name}' collides with existing topic: ${collision}`);
  const n = cmd.numPartitions;
  if (!Number.isInteger(n) || n < 1 || n > MAX_PARTITIONS_PER_TOPIC) {
    return fail(ErrorCode.INVALID_PARTITIONS, `Number of partitions must be in [1, ${MAX_PARTITIONS_PER_TOPIC}], got ${n}.`);
  }
  const brokers = unfencedBrokerIds(image);
  const rf = cmd.replicationFactor;
  if (!Number.isInteger(rf) || rf < 1 || rf > brokers.length) {
    return fail(ErrorCode.INVALID_REPLICATION_FACTOR, `Replication factor ${rf} must be in [1, ${brokers.length}] (unfenced brokers).`);
  }
  const configs = cmd.configs ?? [];
  if (!Array.isArray(configs)) return fail(ErrorCode.INVALID_CONFIG, 'configs must be a list');
  if (configs.length > MAX_CONFIGS_PER_TOPIC) return fail(ErrorCode.INVALID_CONFIG, `Too many configs (${configs.length}).`);
  const seen = new Set<string>();
  for (const c of configs) {
    if (typeof c !== 'object' || c === null || !isEncodableString(c.name) || c.name.length === 0 || !isEncodableString(c.value)) return fail(ErrorCode.INVALID_CONFIG, 'Bad config entry.');
    if (seen.has(c.name)) return fail(ErrorCode.INVALID_REQUEST, `Duplicate config ${c.name}.`);
    seen.add(c.name);
  }
  const topicId = drawTopicId(image, rng);
  const start = nextInt(rng, 0, brokers.length - 1);
  const records: MetadataRecord[] = [topicRecord({ name: cmd.name, topicId })];
  for (let p = 0; p < n; p++) {
    const replicas = Array.from({ length: rf }, (_, j) => brokers[(start + p + j) % brokers.length]);
    records.push(
      partitionRecord({
        partitionId: p, topicId, replicas, isr: [...replicas], removingReplicas: [], addingReplicas: [],
        leader: replicas[0], leaderRecoveryState: 0, leaderEpoch: 0, partitionEpoch: 0,
      }),
    );
  }
  for (const c of configs) {
    records.push(configRecord({ resourceType: ConfigResourceType.TOPIC, resourceName: cmd.name, name: c.name, value: c.value }));
  }
  return { ok: true, records, result: { kind: 'createTopic', name: cmd.name, topicId, numPartitions: n, replicationFactor: rf } };
};

const deleteTopic = (image: MetadataImage, cmd: Extract<ControllerCommand, { kind: 'deleteTopic' }>): ControllerResult => {
  let topic: TopicImage | undefined;
  if (cmd.topicId !== undefined) {
    topic = isUuid(cmd.topicId) ? image.topicsById.get(cmd.topicId) : undefined;
    if (topic === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_ID, `Unknown topic id ${String(cmd.topicId)}`);
  } else if (typeof cmd.name === 'string') {
    topic = topicByName(image, cmd.name);
    if (topic === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unknown topic ${cmd.name}`);
  } else {
    return fail(ErrorCode.INVALID_REQUEST, 'deleteTopic needs a name or a topicId');
  }
  return { ok: true, records: [removeTopicRecord({ topicId: topic.topicId })], result: { kind: 'deleteTopic', name: topic.name, topicId: topic.topicId } };
};

// ---------------------------------------------------------------------------------------------
// Brokers

const endpointProblem = (e: BrokerEndpoint): string | null => {
  if (typeof e !== 'object' || e === null) return 'endpoint must be an object';
  if (!isEncodableString(e.name) || !isEncodableString(e.host)) return `endpoint name/host must be strings of at most ${MAX_STRING_BYTES} bytes`;
  if (!isUint16(e.port)) return `bad port ${e.port}`;
  if (!isInt16(e.securityProtocol)) return 'bad security protocol';
  return null;
};

const registerBroker = (image: MetadataImage, cmd: Extract<ControllerCommand, { kind: 'registerBroker' }>): ControllerResult => {
  if (!isInt32(cmd.brokerId) || cmd.brokerId < 0) return fail(ErrorCode.INVALID_REQUEST, `bad broker id ${cmd.brokerId}`);
  if (!isUuid(cmd.incarnationId)) return fail(ErrorCode.INVALID_REQUEST, 'bad incarnation id');
  if (!Array.isArray(cmd.endpoints)) return fail(ErrorCode.INVALID_REQUEST, 'endpoints must be a list');
  for (const e of cmd.endpoints) {
    const problem = endpointProblem(e);
    if (problem !== null) return fail(ErrorCode.INVALID_REQUEST, problem);
  }
  if (cmd.rack !== undefined && cmd.rack !== null && !isEncodableString(cmd.rack)) return fail(ErrorCode.INVALID_REQUEST, `rack must be a string of at most ${MAX_STRING_BYTES} bytes`);
  if (cmd.features !== undefined && !Array.isArray(cmd.features)) return fail(ErrorCode.INVALID_REQUEST, 'features must be a list');
  for (const f of cmd.features ?? []) {
    if (typeof f !== 'object' || f === null || !isEncodableString(f.name) || !isInt16(f.minSupportedVersion) || !isInt16(f.maxSupportedVersion)) {
      return fail(ErrorCode.INVALID_REQUEST, 'bad broker feature');
    }
  }
  const old = image.brokers.get(cmd.brokerId);
  // KRaft refuses a second live process under one id; ours has no session timeout here, so "live"
  // means unfenced: heartbeats (the caller) fence a silent broker, which then can be replaced.
  if (old !== undefined && !old.fenced && old.incarnationId !== cmd.incarnationId) {
    return fail(ErrorCode.DUPLICATE_BROKER_REGISTRATION, `Broker ${cmd.brokerId} is registered with another incarnation and is unfenced`);
  }
  const brokerEpoch = Math.max(image.maxBrokerEpoch + 1, 0);
  const records: MetadataRecord[] = [
    registerBrokerRecord({
      brokerId: cmd.brokerId,
      incarnationId: cmd.incarnationId,
      brokerEpoch,
      endPoints: cmd.endpoints.map((e) => ({ ...e })),
      features: (cmd.features ?? []).map((f) => ({ ...f })),
      rack: cmd.rack ?? null,
      fenced: true,
    }),
  ];
  // A re-registering broker restarts fenced: take leadership and ISR membership off it (CTRL-4).
  if (old !== undefined) records.push(...leadershipMovesOff(image, cmd.brokerId));
  return { ok: true, records, result: { kind: 'registerBroker', brokerId: cmd.brokerId, brokerEpoch } };
};

const knownBroker = (image: MetadataImage, brokerId: number, brokerEpoch: number): BrokerImage | ControllerError => {
  const b = image.brokers.get(brokerId);
  if (b === undefined) return fail(ErrorCode.BROKER_ID_NOT_REGISTERED, `Broker ${brokerId} is not registered`);
  if (b.brokerEpoch !== brokerEpoch) return fail(ErrorCode.STALE_BROKER_EPOCH, `Broker ${brokerId} epoch ${brokerEpoch} is not ${b.brokerEpoch}`);
  return b;
};

const fenceOrUnfence = (image: MetadataImage, cmd: Extract<ControllerCommand, { kind: 'fenceBroker' | 'unfenceBroker' }>): ControllerResult => {
  const b = knownBroker(image, cmd.brokerId, cmd.brokerEpoch);
  if ('ok' in b) return b;
  const fence = cmd.kind === 'fenceBroker';
  const result = (records: MetadataRecord[]): ControllerResult => ({
    ok: true, records, result: { kind: cmd.kind, brokerId: b.brokerId, brokerEpoch: b.brokerEpoch, partitionsChanged: Math.max(0, records.length - 1) },
  });
  if (b.fenced === fence) return result([]);
  if (fence) return result([fenceBrokerRecord({ id: b.brokerId, epoch: b.brokerEpoch }), ...leadershipMovesOff(image, b.brokerId)]);
  return result([unfenceBrokerRecord({ id: b.brokerId, epoch: b.brokerEpoch }), ...leadershipMovesOnto(image, b.brokerId)]);
};

const unregisterBroker = (image: MetadataImage, cmd: Extract<ControllerCommand, { kind: 'unregisterBroker' }>): ControllerResult => {
  const b = image.brokers.get(cmd.brokerId);
  if (b === undefined) return fail(ErrorCode.BROKER_ID_NOT_REGISTERED, `Broker ${cmd.brokerId} is not registered`);
  const records = [...leadershipMovesOff(image, b.brokerId), unregisterBrokerRecord({ brokerId: b.brokerId, brokerEpoch: b.brokerEpoch })];
  return { ok: true, records, result: { kind: 'unregisterBroker', brokerId: b.brokerId } };
};

// ---------------------------------------------------------------------------------------------
// AlterPartition

const alterPartition = (image: MetadataImage, cmd: Extract<ControllerCommand, { kind: 'alterPartition' }>): ControllerResult => {
  if (cmd.brokerId !== undefined) {
    const b = image.brokers.get(cmd.brokerId);
    if (b === undefined || (cmd.brokerEpoch !== undefined && b.brokerEpoch !== cmd.brokerEpoch)) {
      return fail(ErrorCode.STALE_BROKER_EPOCH, `Broker ${cmd.brokerId} epoch ${cmd.brokerEpoch} is stale`);
    }
  }
  const topic = isUuid(cmd.topicId) ? image.topicsById.get(cmd.topicId) : undefined;
  if (topic === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_ID, `Unknown topic id ${String(cmd.topicId)}`);
  const p = Number.isInteger(cmd.partition) ? topic.partitions[cmd.partition] : undefined;
  if (p === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unknown partition ${topic.name}-${cmd.partition}`);
  if (cmd.brokerId !== undefined && cmd.brokerId !== p.leader) {
    return fail(ErrorCode.NOT_LEADER_OR_FOLLOWER, `Broker ${cmd.brokerId} is not the leader of ${topic.name}-${p.partitionId}`);
  }
  if (cmd.leaderEpoch !== undefined && cmd.leaderEpoch !== p.leaderEpoch) {
    return fail(ErrorCode.FENCED_LEADER_EPOCH, `Leader epoch ${cmd.leaderEpoch} is not ${p.leaderEpoch}`);
  }
  if (cmd.partitionEpoch !== p.partitionEpoch) {
    return fail(ErrorCode.INVALID_UPDATE_VERSION, `Partition epoch ${cmd.partitionEpoch} is not ${p.partitionEpoch}`);
  }
  const isr = cmd.isr;
  if (!Array.isArray(isr) || isr.length === 0 || isr.length > p.replicas.length || new Set(isr).size !== isr.length) {
    return fail(ErrorCode.INVALID_REQUEST, 'ISR must be a non-empty set of replicas');
  }
  if (!isr.every((r) => p.replicas.includes(r))) return fail(ErrorCode.INVALID_REQUEST, `ISR ${isr} is not within replicas ${p.replicas}`);
  if (!isr.every((r) => usable(image, r, NaN))) return fail(ErrorCode.INELIGIBLE_REPLICA, `ISR ${isr} holds a fenced or unregistered broker`);
  // A broker's AlterPartition may not move leadership (Kafka's cannot either); the controller's
  // own callers (no brokerId) may.
  if (cmd.brokerId !== undefined && cmd.leader !== undefined && cmd.leader !== p.leader) {
    return fail(ErrorCode.INVALID_REQUEST, 'A broker cannot change the leader through AlterPartition');
  }
  const leader = cmd.leader ?? p.leader;
  if (leader !== p.leader && leader !== NO_LEADER && !usable(image, leader, NaN)) {
    return fail(ErrorCode.INELIGIBLE_REPLICA, `Leader ${leader} is fenced or unregistered`);
  }
  if (leader !== NO_LEADER && !isr.includes(leader)) return fail(ErrorCode.INVALID_REQUEST, `Leader ${leader} is not in ISR ${isr}`);
  const isrChanged = isr.length !== p.isr.length || isr.some((r, i) => p.isr[i] !== r);
  const leaderChanged = leader !== p.leader;
  const state = (partitionEpoch: number, leaderEpoch: number): CommandResult => ({
    kind: 'alterPartition', topicId: topic.topicId, partition: p.partitionId, leader, leaderEpoch, isr: [...isr], partitionEpoch,
  });
  if (!isrChanged && !leaderChanged) return { ok: true, records: [], result: state(p.partitionEpoch, p.leaderEpoch) };
  const record = partitionChangeRecord({
    topicId: topic.topicId, partitionId: p.partitionId,
    ...(isrChanged ? { isr: [...isr] } : {}), ...(leaderChanged ? { leader } : {}),
  });
  return { ok: true, records: [record], result: state(p.partitionEpoch + 1, p.leaderEpoch + (leaderChanged ? 1 : 0)) };
};

// ---------------------------------------------------------------------------------------------
// Entry points

/** Validates `cmd` against `image` (committed + own pending, see ControllerState) (CTRL-1). */
export const handleCommand = (image: MetadataImage, cmd: ControllerCommand, rng: Rng): ControllerResult => {
  switch (cmd.kind) {
    case 'createTopic':
      return createTopic(image, cmd, rng);
    case 'deleteTopic':
      return deleteTopic(image, cmd);
    case 'registerBroker':
      return registerBroker(image, cmd);
    case 'unregisterBroker':
      return unregisterBroker(image, cmd);
    case 'fenceBroker':
    case 'unfenceBroker':
      return fenceOrUnfence(image, cmd);
    case 'alterPartition':
      return alterPartition(image, cmd);
    case 'noOp':
      return { ok: true, records: [noOpRecord()], result: { kind: 'noOp' } };
    default:
      // Untrusted input: a clear error, never a throw out of the state machine (found in review).
      return fail(ErrorCode.INVALID_REQUEST, `unknown command ${String((cmd as { kind: unknown }).kind)}`);
  }
};

const describe = (topic: TopicImage): QueryResult => ({
  kind: 'describeTopic', name: topic.name, topicId: topic.topicId, partitions: topic.partitions,
});

/** Reads against an image (a node serves reads from its committed image). */
export const handleRead = (image: MetadataImage, query: ControllerQuery): ReadResult => {
  switch (query.kind) {
    case 'describeTopic': {
      const topic = typeof query.name === 'string' ? topicByName(image, query.name) : undefined;
      if (topic === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Unknown topic ${String(query.name)}`);
      return { ok: true, result: describe(topic) };
    }
    case 'describeTopicById': {
      const topic = isUuid(query.topicId) ? image.topicsById.get(query.topicId) : undefined;
      if (topic === undefined) return fail(ErrorCode.UNKNOWN_TOPIC_ID, `Unknown topic id ${String(query.topicId)}`);
      return { ok: true, result: describe(topic) };
    }
    case 'listTopics':
      return {
        ok: true,
        result: {
          kind: 'listTopics',
          topics: topicsInNameOrder(image).map((t) => ({ name: t.name, topicId: t.topicId, numPartitions: t.partitions.length })),
        },
      };
    case 'describeCluster':
      return { ok: true, result: { kind: 'describeCluster', brokers: [...image.brokers.values()].sort((a, b) => a.brokerId - b.brokerId) } };
    default:
      return fail(ErrorCode.INVALID_REQUEST, `unknown query ${String((query as { kind: unknown }).kind)}`);
  }
};
