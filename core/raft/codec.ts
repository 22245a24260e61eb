// On-disk formats of the quorum: log entry frames, the quorum-state record and snapshot files.
// Every format carries a CRC-32C so a torn write or bit-rot is detected on read (io.ts: reads may
// return wrong bytes). Decoders never throw on bad bytes: they return undefined.
//
// Frame (one log entry), big-endian:
//   0 crc32c u32 (of bytes 4..end) | 4 payloadLength u32 | 8 offset hi u32 | 12 offset lo u32 |
//   16 epoch u32 | 20 flags u8 (bit 0 = control) | 21 durable distance u24 | 24 payload
// The durable distance k (RAFT-8) is 0 (no claim) or offset + 1 - D, where every offset below D
// was durable on this disk before the frame was written: so a frame vouches for the durability of
// what precedes it, which tells rot in synced data from unsynced data a crash lost.
// Quorum state: magic 'CQS1' | epoch | votedFor i32 | leaderId i32 | repairTarget hi,lo | crc
// Snapshot: magic 'CSN1' | endOffset hi,lo | epoch | size | dataCrc | headerCrc | data
import { crc32c } from '../records/crc32c.ts';

export const FRAME_HEADER_BYTES = 24;
/** The largest entry payload a frame holds (decodeFrame refuses more). */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;
const TWO32 = 0x1_0000_0000;

const putU64 = (v: DataView, at: number, n: number): void => {
  if (!(Number.isSafeInteger(n) && n >= 0)) throw new Error(`putU64: bad value ${n}`);
  v.setUint32(at, Math.floor(n / TWO32));
  v.setUint32(at + 4, n % TWO32);
};
const getU64 = (v: DataView, at: number): number => v.getUint32(at) * TWO32 + v.getUint32(at + 4);
const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

export interface DecodedFrame {
  readonly offset: number;
  readonly epoch: number;
  readonly control: boolean;
  /** Every offset below this was durable before the frame was written (0: no claim; RAFT-8). */
  readonly durableBelow: number;
  readonly payload: Uint8Array;
  readonly sizeBytes: number;
}

/** The largest durable distance the header holds (u24); a longer one is not claimed. */
const MAX_DURABLE_DISTANCE = 0xff_ffff;

/** `durableBelow`: every offset below it is durable on this disk now, before this frame is
 *  written (the writer's durable end; 0 claims nothing). */
export const encodeFrame = (offset: number, epoch: number, control: boolean, payload: Uint8Array, durableBelow = 0): Uint8Array => {
  if (!(Number.isSafeInteger(durableBelow) && durableBelow >= 0 && durableBelow <= offset)) throw new Error(`encodeFrame: durableBelow ${durableBelow} not in 0..${offset}`);
  const out = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  const v = view(out);
  v.setUint32(4, payload.length);
  putU64(v, 8, offset);
  v.setUint32(16, epoch);
  out[20] = control ? 1 : 0;
  const k = durableBelow === 0 ? 0 : offset + 1 - durableBelow;
  if (k <= MAX_DURABLE_DISTANCE) {
    out[21] = k >>> 16;
    out[22] = (k >>> 8) & 0xff;
    out[23] = k & 0xff;
  }
  out.set(payload, FRAME_HEADER_BYTES);
  v.setUint32(0, crc32c(out.subarray(4)));
  return out;
};

/** The fixed header of the frame at `at`, read but not checked (no CRC, no bounds on the length). */
export interface FrameHeader {
  readonly crc: number;
  readonly payloadLength: number;
  readonly offset: number;
  readonly epoch: number;
  /** Byte 20 is 0 or 1. */
  readonly flagsValid: boolean;
  readonly control: boolean;
  /** See DecodedFrame; 0 when the distance is 0 or reaches below offset 0 (not trusted). */
  readonly durableBelow: number;
}

const u32At = (b: Uint8Array, at: number): number => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

const durableBelowOf = (offset: number, k: number): number => (k === 0 || k > offset + 1 ? 0 : offset + 1 - k);

/** Reads the frame header at `at`; undefined if fewer than FRAME_HEADER_BYTES remain. The one
 *  place that knows the header layout (decodeFrame, and log-store.ts's resync scan). */
export const peekFrameHeader = (buf: Uint8Array, at: number): FrameHeader | undefined => {
  if (buf.length - at < FRAME_HEADER_BYTES) return undefined;
  return {
    crc: u32At(buf, at),
    payloadLength: u32At(buf, at + 4),
    offset: u32At(buf, at + 8) * TWO32 + u32At(buf, at + 12),
    epoch: u32At(buf, at + 16),
    flagsValid: buf[at + 20] <= 1,
    control: buf[at + 20] === 1,
    durableBelow: durableBelowOf(u32At(buf, at + 8) * TWO32 + u32At(buf, at + 12), (buf[at + 21] << 16) | (buf[at + 22] << 8) | buf[at + 23]),
  };
};

/** Decodes the frame at `at`; undefined if it is incomplete or fails its checksum. */
export const decodeFrame = (buf: Uint8Array, at: number): DecodedFrame | undefined => {
  const h = peekFrameHeader(buf, at);
  if (h === undefined) return undefined;
  const len = h.payloadLength;
  if (len > MAX_PAYLOAD_BYTES || buf.length - at < FRAME_HEADER_BYTES + len) return undefined;
  const frame = buf.subarray(at, at + FRAME_HEADER_BYTES + len);
  if (crc32c(frame.subarray(4)) !== h.crc) return undefined;
  if (!h.flagsValid) return undefined;
  return {
    offset: h.offset,
    epoch: h.epoch,
    control: h.control,
    durableBelow: h.durableBelow,
    payload: frame.subarray(FRAME_HEADER_BYTES),
    sizeBytes: frame.length,
  };
};

/** `votedFor` sentinel: a vote in the recorded epoch may have been cast and forgotten (after a
 *  lost quorum state); no vote may be granted in that epoch. */
export const VOTE_UNKNOWN = -2;
/** `votedFor` sentinel: the quorum state was lost; no vote may be granted in any epoch until
 *  the replica learned every other voter's epoch (replica.ts, RAFT-13). */
export const VOTE_FLOOR_PENDING = -3;

export interface QuorumStateRecord {
  readonly epoch: number;
  readonly votedFor: number | undefined;
  readonly leaderId: number | undefined;
  /** When > 0 the replica lost acknowledged entries to corruption and must refetch up to here
   *  before it may vote again (see log-store.ts, RAFT-9). */
  readonly repairTargetOffset: number;
}

const QS_MAGIC = 0x43515331; // 'CQS1'
const QS_BYTES = 28;

export const encodeQuorumState = (q: QuorumStateRecord): Uint8Array => {
  const out = new Uint8Array(QS_BYTES);
  const v = view(out);
  v.setUint32(0, QS_MAGIC);
  v.setUint32(4, q.epoch);
  v.setInt32(8, q.votedFor ?? -1);
  v.setInt32(12, q.leaderId ?? -1);
  putU64(v, 16, q.repairTargetOffset);
  v.setUint32(24, crc32c(out.subarray(0, 24)));
  return out;
};

export const decodeQuorumState = (b: Uint8Array): QuorumStateRecord | undefined => {
  if (b.length !== QS_BYTES) return undefined;
  const v = view(b);
  if (v.getUint32(0) !== QS_MAGIC || crc32c(b.subarray(0, 24)) !== v.getUint32(24)) return undefined;
  const voted = v.getInt32(8);
  const leader = v.getInt32(12);
  return {
    epoch: v.getUint32(4),
    votedFor: voted < 0 && voted !== VOTE_UNKNOWN && voted !== VOTE_FLOOR_PENDING ? undefined : voted,
    leaderId: leader < 0 ? undefined : leader,
    repairTargetOffset: getU64(v, 16),
  };
};

const SNAP_MAGIC = 0x43534e31; // 'CSN1'
export const SNAP_HEADER_BYTES = 28;

export const encodeSnapshot = (endOffset: number, epoch: number, data: Uint8Array): Uint8Array => {
  const out = new Uint8Array(SNAP_HEADER_BYTES + data.length);
  const v = view(out);
  v.setUint32(0, SNAP_MAGIC);
  putU64(v, 4, endOffset);
  v.setUint32(12, epoch);
  v.setUint32(16, data.length);
  v.setUint32(20, crc32c(data));
  v.setUint32(24, crc32c(out.subarray(0, 24)));
  out.set(data, SNAP_HEADER_BYTES);
  return out;
};

export const decodeSnapshot = (b: Uint8Array): { endOffset: number; epoch: number; data: Uint8Array } | undefined => {
  if (b.length < SNAP_HEADER_BYTES) return undefined;
  const v = view(b);
  if (v.getUint32(0) !== SNAP_MAGIC || crc32c(b.subarray(0, 24)) !== v.getUint32(24)) return undefined;
  const size = v.getUint32(16);
  if (b.length !== SNAP_HEADER_BYTES + size) return undefined;
  const data = b.subarray(SNAP_HEADER_BYTES);
  if (crc32c(data) !== v.getUint32(20)) return undefined;
  return { endOffset: getU64(v, 4), epoch: v.getUint32(12), data };
};

export const pad20 = (n: number): string => String(n).padStart(20, '0');
