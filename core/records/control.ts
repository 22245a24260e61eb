// Control records: the end-transaction markers (COMMIT / ABORT) a transaction coordinator
// writes into each partition of a transaction (Kafka's ControlRecordType, EndTransactionMarker).
//
//   key    version int16 (0), type int16 (0 ABORT, 1 COMMIT, 2.. KRaft control types)
//   value  version int16 (0), coordinatorEpoch int32   (end-transaction markers only)
//
// A marker batch is transactional and control, holds exactly one record at offsetDelta 0,
// has baseSequence -1, and carries the producer's id and epoch (MemoryRecords.withEndTransactionMarker).
//   CTL-1  decodeEndTxnMarkerBatch(encodeEndTxnMarkerBatch(m)) === m.
// Faults survived: short keys/values (INVALID_RECORD), non-marker types, non-control batches;
// newer key/value versions are read by their v0 prefix, as Java does.
import { CONTROL_MASK, NO_SEQUENCE, TRANSACTIONAL_MASK } from './batch-header.ts';
import { decodeBatch, encodeBatch, type DecodeOptions } from './batch.ts';
import { recordsError, type RecordsError } from './records-error.ts';

export const ControlRecordType = {
  ABORT: 0,
  COMMIT: 1,
  LEADER_CHANGE: 2,
  SNAPSHOT_HEADER: 3,
  SNAPSHOT_FOOTER: 4,
  KRAFT_VERSION: 5,
  KRAFT_VOTERS: 6,
} as const;

export const CONTROL_KEY_VERSION = 0;
export const END_TXN_MARKER_VERSION = 0;
export type EndTxnType = 'COMMIT' | 'ABORT';

export interface ControlKey {
  readonly version: number;
  readonly type: number;
}

export interface EndTxnMarker {
  readonly type: EndTxnType;
  readonly coordinatorEpoch: number;
}

const invalid = (message: string): { error: RecordsError } => ({ error: recordsError('INVALID_RECORD', message) });

const dv = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

export const encodeControlKey = (type: number): Uint8Array => {
  if (!Number.isInteger(type) || type < 0 || type > 0x7fff) throw new Error(`bad control type ${type}`);
  const out = new Uint8Array(4);
  dv(out).setInt16(0, CONTROL_KEY_VERSION);
  dv(out).setInt16(2, type);
  return out;
};

export const decodeControlKey = (key: Uint8Array | null): ControlKey | { error: RecordsError } => {
  if (key === null || key.length < 4) {
    return invalid(`Invalid value size found for end control record key. Must have at least 4 bytes, but found only ${key?.length ?? -1}`);
  }
  const version = dv(key).getInt16(0);
  if (version < 0) return invalid(`Invalid version found for control record: ${version}`);
  return { version, type: dv(key).getInt16(2) };
};

export const encodeEndTxnMarkerValue = (coordinatorEpoch: number): Uint8Array => {
  const out = new Uint8Array(6);
  dv(out).setInt16(0, END_TXN_MARKER_VERSION);
  dv(out).setInt32(2, coordinatorEpoch);
  return out;
};

/** Decodes an end-transaction marker from a control record's key and value. */
export const decodeEndTxnMarker = (key: Uint8Array | null, value: Uint8Array | null): EndTxnMarker | { error: RecordsError } => {
  const k = decodeControlKey(key);
  if ('error' in k) return k;
  if (k.type !== ControlRecordType.ABORT && k.type !== ControlRecordType.COMMIT) {
    return invalid(`Invalid control record type for end transaction marker ${k.type}`);
  }
  if (value === null || value.length < 6) return invalid(`Invalid end transaction marker value size ${value?.length ?? -1}, expected at least 6`);
  const version = dv(value).getInt16(0);
  if (version < 0) return invalid(`Invalid version found for end transaction marker: ${version}`);
  return { type: k.type === ControlRecordType.COMMIT ? 'COMMIT' : 'ABORT', coordinatorEpoch: dv(value).getInt32(2) };
};

export interface EndTxnMarkerBatch extends EndTxnMarker {
  readonly baseOffset: number | bigint;
  readonly partitionLeaderEpoch: number;
  readonly timestampMs: number | bigint;
  readonly producerId: number | bigint;
  readonly producerEpoch: number;
}

/** One control batch carrying one COMMIT/ABORT marker. */
export const encodeEndTxnMarkerBatch = (m: EndTxnMarkerBatch): Uint8Array =>
  encodeBatch({
    baseOffset: m.baseOffset,
    partitionLeaderEpoch: m.partitionLeaderEpoch,
    baseTimestamp: m.timestampMs,
    producerId: m.producerId,
    producerEpoch: m.producerEpoch,
    baseSequence: NO_SEQUENCE,
    isTransactional: true,
    isControl: true,
    records: [
      {
        offsetDelta: 0,
        timestampDelta: 0,
        key: encodeControlKey(m.type === 'COMMIT' ? ControlRecordType.COMMIT : ControlRecordType.ABORT),
        value: encodeEndTxnMarkerValue(m.coordinatorEpoch),
      },
    ],
  });

export interface DecodedEndTxnMarker extends EndTxnMarker {
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly offset: number;
}

/** Reads the marker from the control batch at `off`; INVALID_RECORD if it is not one. */
export const decodeEndTxnMarkerBatch = (bytes: Uint8Array, off = 0, opts: DecodeOptions = {}): DecodedEndTxnMarker | { error: RecordsError } => {
  const b = decodeBatch(bytes, off, opts);
  if ('error' in b) return b;
  const a = b.header.attributes;
  if ((a & CONTROL_MASK) === 0) return invalid('not a control batch');
  if ((a & TRANSACTIONAL_MASK) === 0) return invalid('end transaction marker batch is not transactional');
  if (b.records.length !== 1) return invalid(`end transaction marker batch holds ${b.records.length} records, expected 1`);
  const r = b.records[0];
  const m = decodeEndTxnMarker(r.key, r.value);
  if ('error' in m) return m;
  return { ...m, producerId: b.header.producerId, producerEpoch: b.header.producerEpoch, offset: r.offset };
};
