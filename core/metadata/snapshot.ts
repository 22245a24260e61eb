// Snapshots of the metadata image: the whole image as the canonical list of records that
// recreates it, behind a checksummed header. Raft stores the bytes; restoring them must give the
// image that replaying the log up to the same offset gives.
//
// Layout (big-endian):
//   u32 SNAPSHOT_MAGIC ('CMS1'), u8 SNAPSHOT_FORMAT (= 1),
//   i64 offset, i32 epoch, i64 maxBrokerEpoch,   -- META-1, META-6 state records cannot carry
//   record list (records.ts writeRecordList),
//   u32 CRC-32C of every byte before it.
// Canonical record order: features by name; brokers by brokerEpoch (ascending, unique; so each
// registration is "fresh" on replay); topics by name, each followed by its partitions in id
// order; configs by (resourceType, resourceName, name).
//
// Invariants:
//  SNAP-1  Deterministic: equal images (same contents, any Map insertion order) give equal bytes.
//  SNAP-2  decodeSnapshot(encodeSnapshot(img)) equals img, and equals the image replaying the log
//          produced (property-tested against random command sequences).
//  SNAP-3  decodeSnapshot never throws: bad magic/format/CRC, malformed records or records that do
//          not fit an image all return `{ error }`.
// Faults survived: bit-rot and torn snapshot files (CRC), hostile bytes.
import { crc32c } from '../records/crc32c.ts';
import { DecodeError, Reader, Writer } from './byte-codec.ts';
import { type MetadataImage, compareStrings, imageFromRecords } from './image.ts';
import {
  type MetadataRecord,
  configRecord,
  featureLevelRecord,
  partitionRecord,
  readRecordList,
  registerBrokerRecord,
  topicRecord,
  writeRecordList,
} from './records.ts';

export const SNAPSHOT_MAGIC = 0x434d5331;
export const SNAPSHOT_FORMAT = 1;
export const MAX_SNAPSHOT_RECORDS = 50_000_000;
const HEADER_BYTES = 4 + 1 + 8 + 4 + 8;
const CRC_BYTES = 4;

/** The canonical record list that recreates `image` (SNAP-1). */
export const imageToRecords = (image: MetadataImage): MetadataRecord[] => {
  const out: MetadataRecord[] = [];
  for (const name of [...image.features.keys()].sort(compareStrings)) {
    out.push(featureLevelRecord({ name, featureLevel: image.features.get(name)! }));
  }
  for (const b of [...image.brokers.values()].sort((x, y) => x.brokerEpoch - y.brokerEpoch)) {
    out.push(
      registerBrokerRecord({
        brokerId: b.brokerId, incarnationId: b.incarnationId, brokerEpoch: b.brokerEpoch,
        endPoints: b.endpoints, features: b.features, rack: b.rack, fenced: b.fenced,
      }),
    );
  }
  for (const name of [...image.topicIdsByName.keys()].sort(compareStrings)) {
    const topic = image.topicsById.get(image.topicIdsByName.get(name)!)!;
    out.push(topicRecord({ name, topicId: topic.topicId }));
    for (const p of topic.partitions) out.push(partitionRecord({ topicId: topic.topicId, ...p }));
  }
  const configKeys = [...image.configs.keys()].sort(compareStrings);
  for (const key of configKeys) {
    const sep = key.indexOf(':');
    const resourceType = Number(key.slice(0, sep));
    const resourceName = key.slice(sep + 1);
    const entries = image.configs.get(key)!;
    for (const name of [...entries.keys()].sort(compareStrings)) {
      out.push(configRecord({ resourceType, resourceName, name, value: entries.get(name)! }));
    }
  }
  return out;
};

export const encodeSnapshot = (image: MetadataImage): Uint8Array => {
  const w = new Writer();
  w.uint32(SNAPSHOT_MAGIC);
  w.int8(SNAPSHOT_FORMAT);
  w.int64(image.offset);
  w.int32(image.epoch);
  w.int64(image.maxBrokerEpoch);
  writeRecordList(w, imageToRecords(image), MAX_SNAPSHOT_RECORDS);
  const body = w.finish();
  const out = new Uint8Array(body.length + CRC_BYTES);
  out.set(body);
  new DataView(out.buffer).setUint32(body.length, crc32c(body));
  return out;
};

export interface DecodedSnapshot {
  readonly image: MetadataImage;
}

/** Never throws (SNAP-3). */
export const decodeSnapshot = (bytes: Uint8Array): DecodedSnapshot | { readonly error: string } => {
  if (bytes.length < HEADER_BYTES + 1 + CRC_BYTES) return { error: `snapshot too short (${bytes.length} bytes)` };
  const body = bytes.subarray(0, bytes.length - CRC_BYTES);
  const stored = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(body.length);
  if (crc32c(body) !== stored) return { error: 'snapshot checksum mismatch' };
  try {
    const r = new Reader(body);
    if (r.uint32() !== SNAPSHOT_MAGIC) return { error: 'not a metadata snapshot (bad magic)' };
    const format = r.int8();
    if (format !== SNAPSHOT_FORMAT) return { error: `unknown snapshot format ${format}` };
    const offset = r.int64();
    const epoch = r.int32();
    const maxBrokerEpoch = r.int64();
    const records = readRecordList(r, MAX_SNAPSHOT_RECORDS);
    if (r.remaining !== 0) return { error: `${r.remaining} trailing bytes in snapshot` };
    return { image: imageFromRecords(records, offset, epoch, maxBrokerEpoch) };
  } catch (e) {
    // A DecodeError is malformed bytes; an image assertion here means records that do not fit
    // together, which in a snapshot that passed its CRC is still bad input, not our bug.
    return { error: `${e instanceof DecodeError ? 'malformed' : 'inconsistent'} snapshot: ${(e as Error).message}` };
  }
};
