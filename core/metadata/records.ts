// KRaft metadata records as Cairn uses them, and the binary codec for one raft entry's payload
// (a batch of records applied atomically).
//
// Field names are the camelCase of Kafka's metadata schemas (kafka-protocol/metadata/*.json);
// each record is tagged with the schema's apiKey and the version Cairn writes. Only the fields
// of the version written are carried (e.g. RegisterBrokerRecord v0 has no inControlledShutdown).
//
// Entry payload layout (all integers big-endian, varints unsigned LEB128 as Kafka's):
//   u8      PAYLOAD_FORMAT (= 1)
//   uvarint recordCount
//   recordCount x { uvarint frameSizeBytes; frame }
// where each frame is Kafka's metadata record framing (MetadataRecordSerde):
//   uvarint frameVersion (= 1), uvarint apiKey, uvarint version, then the body in the schema's
//   flexible encoding (compact strings/arrays, Uuid as 16 bytes, trailing tagged-field section).
//
// Invariants:
//  REC-1  encodeRecords is deterministic and decodeRecords(encodeRecords(rs)) deep-equals rs.
//  REC-2  decodeRecords never throws: hostile bytes yield `{ error }` (see CODEC-2/3); every
//         frame must be consumed exactly; unknown apiKeys/versions are errors (never skipped,
//         since applying a batch partially would fork replicas).
//  REC-3  encodeRecords asserts its input is well-formed (our own bug otherwise).
// Faults survived: corrupt or truncated payloads (decoded to an error, never a partial batch).
import { DecodeError, Reader, Writer } from './byte-codec.ts';
import type { Uuid } from './uuid.ts';

export type { Uuid } from './uuid.ts';

export const PAYLOAD_FORMAT = 1;
export const FRAME_VERSION = 1;
/** Bounds a batch: a controller command never produces more (CreateTopics caps partitions). */
export const MAX_RECORDS_PER_BATCH = 100_000;

/** Kafka's ConfigResource.Type codes. */
export const ConfigResourceType = { TOPIC: 2, BROKER: 4 } as const;

/** PartitionChangeRecord.leader: the leader did not change. */
export const NO_LEADER_CHANGE = -2;
export const NO_LEADER = -1;

export interface BrokerEndpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly securityProtocol: number;
}

export interface BrokerFeature {
  readonly name: string;
  readonly minSupportedVersion: number;
  readonly maxSupportedVersion: number;
}

export interface RegisterBrokerRecord {
  readonly type: 'RegisterBrokerRecord';
  readonly apiKey: 0;
  readonly version: 0;
  readonly brokerId: number;
  readonly incarnationId: Uuid;
  readonly brokerEpoch: number;
  readonly endPoints: readonly BrokerEndpoint[];
  readonly features: readonly BrokerFeature[];
  readonly rack: string | null;
  readonly fenced: boolean;
}

export interface UnregisterBrokerRecord {
  readonly type: 'UnregisterBrokerRecord';
  readonly apiKey: 1;
  readonly version: 0;
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export interface TopicRecord {
  readonly type: 'TopicRecord';
  readonly apiKey: 2;
  readonly version: 0;
  readonly name: string;
  readonly topicId: Uuid;
}

export interface PartitionRecord {
  readonly type: 'PartitionRecord';
  readonly apiKey: 3;
  readonly version: 0;
  readonly partitionId: number;
  readonly topicId: Uuid;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly removingReplicas: readonly number[];
  readonly addingReplicas: readonly number[];
  readonly leader: number;
  /** Tagged (tag 0), default 0. */
  readonly leaderRecoveryState: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
}

export interface ConfigRecord {
  readonly type: 'ConfigRecord';
  readonly apiKey: 4;
  readonly version: 0;
  readonly resourceType: number;
  readonly resourceName: string;
  readonly name: string;
  /** null deletes the key. */
  readonly value: string | null;
}

export interface PartitionChangeRecord {
  readonly type: 'PartitionChangeRecord';
  readonly apiKey: 5;
  readonly version: 0;
  readonly partitionId: number;
  readonly topicId: Uuid;
  /** Tagged fields below: null / -2 / -1 mean "unchanged", as in the schema. */
  readonly isr: readonly number[] | null;
  readonly leader: number;
  readonly replicas: readonly number[] | null;
  readonly removingReplicas: readonly number[] | null;
  readonly addingReplicas: readonly number[] | null;
  readonly leaderRecoveryState: number;
}

export interface FenceBrokerRecord {
  readonly type: 'FenceBrokerRecord';
  readonly apiKey: 7;
  readonly version: 0;
  readonly id: number;
  readonly epoch: number;
}

export interface UnfenceBrokerRecord {
  readonly type: 'UnfenceBrokerRecord';
  readonly apiKey: 8;
  readonly version: 0;
  readonly id: number;
  readonly epoch: number;
}

export interface RemoveTopicRecord {
  readonly type: 'RemoveTopicRecord';
  readonly apiKey: 9;
  readonly version: 0;
  readonly topicId: Uuid;
}

export interface FeatureLevelRecord {
  readonly type: 'FeatureLevelRecord';
  readonly apiKey: 12;
  readonly version: 0;
  readonly name: string;
  readonly featureLevel: number;
}

/** A new raft leader commits one of these first (Kafka does too); it changes nothing. */
export interface NoOpRecord {
  readonly type: 'NoOpRecord';
  readonly apiKey: 20;
  readonly version: 0;
}

export type MetadataRecord =
  | RegisterBrokerRecord
  | UnregisterBrokerRecord
  | TopicRecord
  | PartitionRecord
  | ConfigRecord
  | PartitionChangeRecord
  | FenceBrokerRecord
  | UnfenceBrokerRecord
  | RemoveTopicRecord
  | FeatureLevelRecord
  | NoOpRecord;

// ---------------------------------------------------------------------------------------------
// Constructors: fill apiKey/version (and schema defaults), so call sites stay short.

type Body<R extends MetadataRecord> = Omit<R, 'type' | 'apiKey' | 'version'>;

export const registerBrokerRecord = (b: Body<RegisterBrokerRecord>): RegisterBrokerRecord => ({
  type: 'RegisterBrokerRecord', apiKey: 0, version: 0, ...b,
});
export const unregisterBrokerRecord = (b: Body<UnregisterBrokerRecord>): UnregisterBrokerRecord => ({
  type: 'UnregisterBrokerRecord', apiKey: 1, version: 0, ...b,
});
export const topicRecord = (b: Body<TopicRecord>): TopicRecord => ({ type: 'TopicRecord', apiKey: 2, version: 0, ...b });
export const partitionRecord = (b: Body<PartitionRecord>): PartitionRecord => ({
  type: 'PartitionRecord', apiKey: 3, version: 0, ...b,
});
export const configRecord = (b: Body<ConfigRecord>): ConfigRecord => ({ type: 'ConfigRecord', apiKey: 4, version: 0, ...b });
export const partitionChangeRecord = (
  b: Pick<PartitionChangeRecord, 'partitionId' | 'topicId'> & Partial<Body<PartitionChangeRecord>>,
): PartitionChangeRecord => ({
  type: 'PartitionChangeRecord',
  apiKey: 5,
  version: 0,
  isr: null,
  leader: NO_LEADER_CHANGE,
  replicas: null,
  removingReplicas: null,
  addingReplicas: null,
  leaderRecoveryState: -1,
  ...b,
});
export const fenceBrokerRecord = (b: Body<FenceBrokerRecord>): FenceBrokerRecord => ({
  type: 'FenceBrokerRecord', apiKey: 7, version: 0, ...b,
});
export const unfenceBrokerRecord = (b: Body<UnfenceBrokerRecord>): UnfenceBrokerRecord => ({
  type: 'UnfenceBrokerRecord', apiKey: 8, version: 0, ...b,
});
export const removeTopicRecord = (b: Body<RemoveTopicRecord>): RemoveTopicRecord => ({
  type: 'RemoveTopicRecord', apiKey: 9, version: 0, ...b,
});
export const featureLevelRecord = (b: Body<FeatureLevelRecord>): FeatureLevelRecord => ({
  type: 'FeatureLevelRecord', apiKey: 12, version: 0, ...b,
});
export const noOpRecord = (): NoOpRecord => ({ type: 'NoOpRecord', apiKey: 20, version: 0 });

// ---------------------------------------------------------------------------------------------
// Bodies

const noTags = (w: Writer): void => w.taggedFields([]);
const skipTags = (r: Reader): void => r.taggedFields(() => false);
/** `rec`, read before its (empty) tagged-field section, which this then skips. */
const untagged = <T>(r: Reader, rec: T): T => {
  skipTags(r);
  return rec;
};

const writeBody = (w: Writer, rec: MetadataRecord): void => {
  switch (rec.type) {
    case 'RegisterBrokerRecord':
      w.int32(rec.brokerId);
      w.uuid(rec.incarnationId);
      w.int64(rec.brokerEpoch);
      w.compactArray(rec.endPoints, (e) => {
        w.compactString(e.name);
        w.compactString(e.host);
        w.uint16(e.port);
        w.int16(e.securityProtocol);
        noTags(w);
      });
      w.compactArray(rec.features, (f) => {
        w.compactString(f.name);
        w.int16(f.minSupportedVersion);
        w.int16(f.maxSupportedVersion);
        noTags(w);
      });
      w.compactNullableString(rec.rack);
      w.bool(rec.fenced);
      return noTags(w);
    case 'UnregisterBrokerRecord':
      w.int32(rec.brokerId);
      w.int64(rec.brokerEpoch);
      return noTags(w);
    case 'TopicRecord':
      w.compactString(rec.name);
      w.uuid(rec.topicId);
      return noTags(w);
    case 'PartitionRecord':
      w.int32(rec.partitionId);
      w.uuid(rec.topicId);
      w.int32Array(rec.replicas);
      w.int32Array(rec.isr);
      w.int32Array(rec.removingReplicas);
      w.int32Array(rec.addingReplicas);
      w.int32(rec.leader);
      w.int32(rec.leaderEpoch);
      w.int32(rec.partitionEpoch);
      return w.taggedFields(rec.leaderRecoveryState === 0 ? [] : [{ tag: 0, write: (t) => t.int8(rec.leaderRecoveryState) }]);
    case 'ConfigRecord':
      w.int8(rec.resourceType);
      w.compactString(rec.resourceName);
      w.compactString(rec.name);
      w.compactNullableString(rec.value);
      return noTags(w);
    case 'PartitionChangeRecord':
      w.int32(rec.partitionId);
      w.uuid(rec.topicId);
      return w.taggedFields(partitionChangeTags(rec));
    case 'FenceBrokerRecord':
    case 'UnfenceBrokerRecord':
      w.int32(rec.id);
      w.int64(rec.epoch);
      return noTags(w);
    case 'RemoveTopicRecord':
      w.uuid(rec.topicId);
      return noTags(w);
    case 'FeatureLevelRecord':
      w.compactString(rec.name);
      w.int16(rec.featureLevel);
      return noTags(w);
    case 'NoOpRecord':
      return noTags(w);
  }
};

const partitionChangeTags = (rec: PartitionChangeRecord) => {
  const tags: { tag: number; write: (w: Writer) => void }[] = [];
  const list = (tag: number, v: readonly number[] | null) => {
    if (v !== null) tags.push({ tag, write: (w) => w.int32Array(v) });
  };
  list(0, rec.isr);
  if (rec.leader !== NO_LEADER_CHANGE) tags.push({ tag: 1, write: (w) => w.int32(rec.leader) });
  list(2, rec.replicas);
  list(3, rec.removingReplicas);
  list(4, rec.addingReplicas);
  if (rec.leaderRecoveryState !== -1) tags.push({ tag: 5, write: (w) => w.int8(rec.leaderRecoveryState) });
  return tags;
};

const readPartitionChange = (r: Reader): PartitionChangeRecord => {
  const partitionId = r.int32();
  const topicId = r.uuid();
  const fields: {
    isr: number[] | null; leader: number; replicas: number[] | null;
    removingReplicas: number[] | null; addingReplicas: number[] | null; leaderRecoveryState: number;
  } = { isr: null, leader: NO_LEADER_CHANGE, replicas: null, removingReplicas: null, addingReplicas: null, leaderRecoveryState: -1 };
  r.taggedFields((tag, t) => {
    // A present-but-null tagged array is refused (int32Array): it would not round-trip.
    const list = () => t.int32Array();
    if (tag === 0) fields.isr = list();
    else if (tag === 1) fields.leader = t.int32();
    else if (tag === 2) fields.replicas = list();
    else if (tag === 3) fields.removingReplicas = list();
    else if (tag === 4) fields.addingReplicas = list();
    else if (tag === 5) fields.leaderRecoveryState = t.int8();
    else return false;
    return true;
  });
  return partitionChangeRecord({ partitionId, topicId, ...fields });
};

const readBody = (r: Reader, apiKey: number, version: number): MetadataRecord => {
  if (version !== 0) throw new DecodeError(`unsupported version ${version} of apiKey ${apiKey}`);
  switch (apiKey) {
    case 0: {
      const brokerId = r.int32();
      const incarnationId = r.uuid();
      const brokerEpoch = r.int64();
      const endPoints = r.compactArray(6, () =>
        untagged(r, { name: r.compactString(), host: r.compactString(), port: r.uint16(), securityProtocol: r.int16() }),
      );
      const features = r.compactArray(6, () =>
        untagged(r, { name: r.compactString(), minSupportedVersion: r.int16(), maxSupportedVersion: r.int16() }),
      );
      const rack = r.compactNullableString();
      const fenced = r.bool();
      return untagged(r, registerBrokerRecord({ brokerId, incarnationId, brokerEpoch, endPoints, features, rack, fenced }));
    }
    case 1:
      return untagged(r, unregisterBrokerRecord({ brokerId: r.int32(), brokerEpoch: r.int64() }));
    case 2:
      return untagged(r, topicRecord({ name: r.compactString(), topicId: r.uuid() }));
    case 3: {
      const partitionId = r.int32();
      const topicId = r.uuid();
      const replicas = r.int32Array();
      const isr = r.int32Array();
      const removingReplicas = r.int32Array();
      const addingReplicas = r.int32Array();
      const leader = r.int32();
      const leaderEpoch = r.int32();
      const partitionEpoch = r.int32();
      let leaderRecoveryState = 0;
      r.taggedFields((tag, t) => {
        if (tag !== 0) return false;
        leaderRecoveryState = t.int8();
        return true;
      });
      return partitionRecord({
        partitionId, topicId, replicas, isr, removingReplicas, addingReplicas, leader, leaderRecoveryState, leaderEpoch, partitionEpoch,
      });
    }
    case 4:
      return untagged(r, configRecord({
        resourceType: r.int8(), resourceName: r.compactString(), name: r.compactString(), value: r.compactNullableString(),
      }));
    case 5:
      return readPartitionChange(r);
    case 7:
    case 8: {
      const body = untagged(r, { id: r.int32(), epoch: r.int64() });
      return apiKey === 7 ? fenceBrokerRecord(body) : unfenceBrokerRecord(body);
    }
    case 9:
      return untagged(r, removeTopicRecord({ topicId: r.uuid() }));
    case 12:
      return untagged(r, featureLevelRecord({ name: r.compactString(), featureLevel: r.int16() }));
    case 20:
      return untagged(r, noOpRecord());
    default:
      throw new DecodeError(`unknown metadata apiKey ${apiKey}`);
  }
};

// ---------------------------------------------------------------------------------------------
// One record (Kafka framing) and one entry payload (a batch)

/** Appends one record in Kafka's metadata framing. */
export const writeRecordFrame = (w: Writer, rec: MetadataRecord): void => {
  w.uvarint(FRAME_VERSION);
  w.uvarint(rec.apiKey);
  w.uvarint(rec.version);
  writeBody(w, rec);
};

/** Reads one framed record that must fill `r` exactly. Throws DecodeError (caught by callers). */
export const readRecordFrame = (r: Reader): MetadataRecord => {
  const frameVersion = r.uvarint();
  if (frameVersion !== FRAME_VERSION) throw new DecodeError(`unsupported frame version ${frameVersion}`);
  const apiKey = r.uvarint();
  const version = r.uvarint();
  const rec = readBody(r, apiKey, version);
  if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes after ${rec.type}`);
  return rec;
};

/** Writes `records` as `{ uvarint count; count x { uvarint size; frame } }` (no format byte). */
export const writeRecordList = (w: Writer, records: readonly MetadataRecord[], maxCount = MAX_RECORDS_PER_BATCH): void => {
  if (records.length > maxCount) throw new Error(`batch of ${records.length} records exceeds the bound`);
  w.uvarint(records.length);
  for (const rec of records) w.sizePrefixed((frame) => writeRecordFrame(frame, rec));
};

/** Reads what writeRecordList wrote. Throws DecodeError (caught by callers). */
export const readRecordList = (r: Reader, maxCount = MAX_RECORDS_PER_BATCH): MetadataRecord[] => {
  const count = r.uvarint();
  // Each frame takes at least 5 bytes (size, frame version, apiKey, version, tag count).
  if (count > maxCount || count * 5 > r.remaining) throw new DecodeError(`record count ${count} exceeds input`);
  const out: MetadataRecord[] = [];
  for (let i = 0; i < count; i++) out.push(readRecordFrame(r.sub(r.uvarint(), 'bytes')));
  return out;
};

/** The payload of one raft entry: a batch of records applied atomically (REC-1). */
export const encodeRecords = (records: readonly MetadataRecord[]): Uint8Array => {
  const w = new Writer();
  w.int8(PAYLOAD_FORMAT);
  writeRecordList(w, records);
  return w.finish();
};

/** Decodes an entry payload; never throws (REC-2). */
export const decodeRecords = (bytes: Uint8Array): MetadataRecord[] | { readonly error: string } => {
  try {
    const r = new Reader(bytes);
    const format = r.int8();
    if (format !== PAYLOAD_FORMAT) return { error: `unknown payload format ${format}` };
    const records = readRecordList(r);
    if (r.remaining !== 0) return { error: `${r.remaining} trailing bytes after the batch` };
    return records;
  } catch (e) {
    if (e instanceof DecodeError) return { error: e.message };
    return { error: `decode failed: ${e instanceof Error ? e.message : String(e)}` };
  }
};
