// Compression codecs of RecordBatch v2 (attributes bits 0-2): what is compressed is the record
// section, i.e. every byte after the 61-byte header; recordsCount stays in the header.
//
//   id  codec   decode                    encode
//    0  none    -                         -
//    1  gzip    fflate (pure JS)          fflate
//    2  snappy  snappyjs; xerial framing  snappyjs, xerial framing (as the Java client writes)
//               (Java client) and raw
//    3  lz4     lz4-napi (native lz4_flex),  lz4-napi, one frame of
//               frame format, block by block independent blocks
//    4  zstd    fzstd (pure JS)           UNSUPPORTED (fzstd decodes only)
//   5-7 -       UNSUPPORTED_COMPRESSION_TYPE
//
//   CMP-1  decompression never yields more than `maxBytes` (decompression bombs fail as
//          CORRUPT_MESSAGE before the output grows past the bound). lz4-napi decodes a whole
//          frame at once, unbounded, so an LZ4 frame is walked here block by block (each block
//          decodes to at most the frame's block size, 64 KiB..4 MiB) and the total is checked
//          after each block; a frame of dependent blocks (which no Kafka client writes) is
//          decoded whole only if LZ4's worst-case ratio (255:1) keeps it under the bound.
//   CMP-2  decompress(c, compress(c, x)) === x for every codec with canCompress(c).
//   DEC-1  a snappy block is walked (every literal and copy in bounds, the total as claimed)
//          before snappyjs, which trusts its input, decodes it.
//   DEC-2  a zstd frame's window fits the bound and its blocks x window (what fzstd's streaming
//          decoder shifts) fit a budget, checked from the headers before fzstd runs.
//   DEC-3  push decoders (gzip, zstd) get their input in 4 KiB slices, so CMP-1 stops them early.
// Faults survived: truncated or garbage compressed streams (CORRUPT_MESSAGE), unknown or
// unsupported codec ids (UNSUPPORTED_COMPRESSION_TYPE); library exceptions never escape.
import { Gunzip, gzipSync } from 'fflate';
import { Decompress as ZstdDecompress } from 'fzstd';
import { compress as snappyCompress, uncompress as snappyUncompress } from 'snappyjs';
import { compressFrameSync as lz4CompressFrame, decompressFrameSync as lz4DecompressFrame, uncompressSync as lz4UncompressBlock } from 'lz4-napi';
import { recordsError, type RecordsError } from './records-error.ts';
import { concatBytes } from '../bytes.ts';

export const Compression = { NONE: 0, GZIP: 1, SNAPPY: 2, LZ4: 3, ZSTD: 4 } as const;
export type CompressionCodec = (typeof Compression)[keyof typeof Compression];
export const COMPRESSION_CODEC_MASK = 0x07;

/** Default bound on a batch's decompressed record section (CMP-1). */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

export const codecName = (codec: number): string =>
  ['none', 'gzip', 'snappy', 'lz4', 'zstd'][codec] ?? `unknown(${codec})`;

/** Codecs Cairn can encode (all but zstd). */
export const canCompress = (codec: number): codec is 0 | 1 | 2 | 3 => codec === 0 || codec === 1 || codec === 2 || codec === 3;

export type Decompressed = { readonly bytes: Uint8Array } | { readonly error: RecordsError };

const unsupported = (codec: number): { error: RecordsError } => ({
  error: recordsError('UNSUPPORTED_COMPRESSION_TYPE', `compression ${codecName(codec)} is not supported`),
});

const corrupt = (what: string): { error: RecordsError } => ({ error: recordsError('CORRUPT_MESSAGE', what) });

/** Collects streamed chunks, refusing to grow past maxBytes. */
class BoundedSink {
  readonly chunks: Uint8Array[] = [];
  total = 0;
  overflow = false;
  constructor(readonly maxBytes: number) {}
  add(chunk: Uint8Array): void {
    this.total += chunk.length;
    if (this.total > this.maxBytes) {
      this.overflow = true;
      throw new Error('decompressed size bound exceeded');
    }
    this.chunks.push(chunk);
  }
  join(): Uint8Array {
    return this.chunks.length === 1 ? this.chunks[0] : concatBytes(this.chunks, this.total);
  }
}

const streamed = (name: string, maxBytes: number, run: (sink: BoundedSink) => void): Decompressed => {
  const sink = new BoundedSink(maxBytes);
  try {
    run(sink);
  } catch (e) {
    if (sink.overflow) return corrupt(`${name}: decompressed record section exceeds ${maxBytes} bytes`);
    return corrupt(`${name}: ${e instanceof Error ? e.message : 'malformed stream'}`);
  }
  return { bytes: sink.join() };
};

/** A push-style streaming decoder (fflate's Gunzip, fzstd's Decompress) run over `data` into the bounded sink. */
interface PushDecoder {
  push(chunk: Uint8Array, final?: boolean): void;
}
/** DEC-3: input fed to a push decoder at a time, so its output between two sink checks stays
 *  bounded (deflate expands at most ~1032:1: 4 KiB of input makes at most ~4 MiB; CMP-1). Fed
 *  whole, a 262 KB gzip of 256 MiB of zeroes inflated all of it before the first check (1.2 s,
 *  +510 MiB; found in review). */
const PUSH_SLICE_BYTES = 4096;

const pushStream = (name: string, Decoder: new (ondata: (chunk: Uint8Array, final?: boolean) => void) => PushDecoder) =>
  (data: Uint8Array, maxBytes: number): Decompressed =>
    streamed(name, maxBytes, (sink) => {
      let ended = false;
      const d = new Decoder((chunk, final) => {
        sink.add(chunk);
        if (final) ended = true;
      });
      // In slices, not whole: the sink throws (ends the decode) at the first slice past the bound.
      // At least one push, the last one final (empty input too).
      let at = 0;
      do {
        const end = Math.min(data.length, at + PUSH_SLICE_BYTES);
        d.push(data.subarray(at, end), end === data.length);
        at = end;
      } while (at < data.length);
      if (!ended) throw new Error('truncated stream');
    });

const gunzip = pushStream('gzip', Gunzip);
const unzstdStream = pushStream('zstd', ZstdDecompress);

/**
 * DEC-2: zstd frames are walked (headers and block headers, no decoding) before fzstd sees them.
 * fzstd's streaming decoder allocates the window a frame header claims (up to ~2 GiB) and shifts
 * the whole window once per block: a 71-byte batch claiming a 1.9 GiB window took 6.5 s and
 * 2 GiB, and a 64 MiB window with thousands of 4-byte blocks costs ~5 ms a block (found in
 * review). So a window may not exceed the decompression bound, and blocks x window (the bytes
 * fzstd shifts) may not exceed ZSTD_SHIFT_BUDGET_RATIO x the bound, at least 256 MiB (1 GiB of
 * shifting at the default 64 MiB bound, some 200 ms at worst). A producer's frames stay below
 * it: blocks carry up to 128 KiB and streamed frames at the default level use 2-8 MiB windows,
 * so a 64 MiB batch with a 2 MiB window shifts 1 GiB; larger windows over many blocks are
 * refused (CORRUPT_MESSAGE).
 */
const unzstd = (data: Uint8Array, maxBytes: number): Decompressed => {
  const problem = checkZstdFrames(data, maxBytes);
  return problem === null ? unzstdStream(data, maxBytes) : corrupt(`zstd: ${problem}`);
};

const ZSTD_MAGIC = 0xfd2fb528;
const ZSTD_SHIFT_BUDGET_RATIO = 16;
const ZSTD_SHIFT_BUDGET_MIN = 256 * 1024 * 1024;

/** Null if every frame of `data` is well formed within DEC-2's bounds, else what is wrong. */
const checkZstdFrames = (data: Uint8Array, maxBytes: number): string | null => {
  const u32 = (at: number): number => (data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24)) >>> 0;
  const budget = Math.max(ZSTD_SHIFT_BUDGET_MIN, ZSTD_SHIFT_BUDGET_RATIO * maxBytes);
  let shifted = 0;
  let pos = 0;
  // Each iteration consumes at least 4 bytes (a magic number).
  while (pos < data.length) {
    if (data.length - pos < 8) return 'truncated frame';
    const magic = u32(pos);
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      const size = u32(pos + 4); // a skippable frame
      if (size > data.length - pos - 8) return 'truncated skippable frame';
      pos += 8 + size;
      continue;
    }
    if (magic !== ZSTD_MAGIC) return 'bad frame magic';
    const fhd = data[pos + 4];
    if ((fhd & 0x08) !== 0) return 'reserved frame header bit set';
    const singleSegment = (fhd >> 5) & 1;
    const dictBytes = [0, 1, 2, 4][fhd & 3];
    const fcsBytes = [singleSegment, 2, 4, 8][fhd >> 6];
    let at = pos + 5;
    let window = 0;
    if (singleSegment === 0) {
      const wd = data[at++];
      const base = 2 ** (10 + (wd >> 3));
      window = base + (base / 8) * (wd & 7);
    }
    at += dictBytes;
    if (at + fcsBytes > data.length) return 'truncated frame header';
    let contentSize = 0;
    for (let i = fcsBytes - 1; i >= 0; i--) contentSize = contentSize * 256 + data[at + i];
    if (fcsBytes === 2) contentSize += 256;
    at += fcsBytes;
    if (singleSegment === 1) window = contentSize;
    if (window > maxBytes) return `window of ${window} bytes over the ${maxBytes}-byte bound`;
    if (fcsBytes > 0 && contentSize > maxBytes) return `content of ${contentSize} bytes over the ${maxBytes}-byte bound`;
    // Blocks: a 3-byte little-endian header (last, type, size), then the block's bytes.
    for (let last = 0; last === 0; ) {
      if (at + 3 > data.length) return 'truncated block header';
      const h = data[at] | (data[at + 1] << 8) | (data[at + 2] << 16);
      at += 3;
      last = h & 1;
      const type = (h >> 1) & 3;
      const size = h >>> 3;
      if (type === 3) return 'reserved block type';
      const bytes = type === 1 ? 1 : size; // RLE: one byte repeated `size` times
      if (bytes > data.length - at) return 'truncated block';
      at += bytes;
      shifted += window;
      if (shifted > budget) return `too many blocks for a ${window}-byte window`;
    }
    if ((fhd & 0x04) !== 0) at += 4; // content checksum
    if (at > data.length) return 'truncated content checksum';
    pos = at;
  }
  return null;
};

// xerial snappy-java stream framing: magic, version 1, min-compatible 1, then
// [int32 BE compressed length][raw snappy block] repeated.
const XERIAL_MAGIC = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00];
const XERIAL_HEADER_SIZE = 16;
const XERIAL_BLOCK_SIZE = 32 * 1024;

const isXerial = (data: Uint8Array): boolean =>
  data.length >= XERIAL_HEADER_SIZE && XERIAL_MAGIC.every((b, i) => data[i] === b);

const unsnappyXerial = (data: Uint8Array, maxBytes: number): Decompressed =>
  streamed('snappy', maxBytes, (sink) => {
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let pos = XERIAL_HEADER_SIZE;
    // Each block consumes >= 4 bytes, so the loop runs at most data.length / 4 times.
    while (pos < data.length) {
      if (data.length - pos < 4) throw new Error('truncated xerial block length');
      const len = v.getInt32(pos);
      pos += 4;
      if (len < 0 || len > data.length - pos) throw new Error(`bad xerial block length ${len}`);
      sink.add(snappyBlock(data.subarray(pos, pos + len), maxBytes - sink.total));
      pos += len;
    }
  });

const unsnappy = (data: Uint8Array, maxBytes: number): Decompressed => {
  if (isXerial(data)) return unsnappyXerial(data, maxBytes);
  return streamed('snappy', maxBytes, (sink) => sink.add(snappyBlock(data, maxBytes)));
};

/**
 * DEC-1: one raw snappy block, decoded by snappyjs only once `checkSnappyBlock` has walked it.
 * snappyjs trusts its input: a 4-byte literal length above 2^31 turns negative and sends it
 * back to the same literal forever (a 67-byte batch hung the decoder), copies are not bounded
 * by the claimed length, and a short stream decodes as zeroes (found in review).
 */
const snappyBlock = (data: Uint8Array, maxBytes: number): Uint8Array => {
  checkSnappyBlock(data, maxBytes);
  return snappyUncompress(data, maxBytes);
};

/** Throws unless `block` is a well-formed raw snappy block of at most `maxBytes` output: every
 *  literal within the input, every copy within what was produced, the total exactly as claimed. */
const checkSnappyBlock = (block: Uint8Array, maxBytes: number): void => {
  let pos = 0;
  let claimed = 0;
  for (let shift = 0; ; shift += 7) {
    if (pos >= block.length || shift > 28) throw new Error('bad snappy length preamble');
    const b = block[pos++];
    claimed += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) break;
  }
  if (claimed > maxBytes) throw new Error(`snappy block claims ${claimed} bytes, over ${maxBytes}`);
  let out = 0;
  while (pos < block.length) {
    const tag = block[pos++];
    let len: number;
    if ((tag & 3) === 0) {
      len = (tag >>> 2) + 1;
      if (len > 60) {
        const extra = len - 60; // 1..4 little-endian length bytes
        if (pos + extra > block.length) throw new Error('truncated snappy literal length');
        len = 0;
        for (let i = extra - 1; i >= 0; i--) len = len * 256 + block[pos + i];
        len += 1;
        pos += extra;
      }
      if (len > block.length - pos) throw new Error('snappy literal past the input');
      pos += len;
    } else {
      let offset: number;
      if ((tag & 3) === 1) {
        if (pos + 1 > block.length) throw new Error('truncated snappy copy');
        len = ((tag >>> 2) & 7) + 4;
        offset = ((tag >>> 5) << 8) + block[pos];
        pos += 1;
      } else if ((tag & 3) === 2) {
        if (pos + 2 > block.length) throw new Error('truncated snappy copy');
        len = (tag >>> 2) + 1;
        offset = block[pos] + block[pos + 1] * 256;
        pos += 2;
      } else {
        if (pos + 4 > block.length) throw new Error('truncated snappy copy');
        len = (tag >>> 2) + 1;
        offset = block[pos] + block[pos + 1] * 256 + block[pos + 2] * 65536 + block[pos + 3] * 16777216;
        pos += 4;
      }
      if (offset === 0 || offset > out) throw new Error('snappy copy before the start');
    }
    out += len;
    if (out > claimed) throw new Error('snappy block longer than it claims');
  }
  if (out !== claimed) throw new Error('snappy block shorter than it claims');
};

// LZ4 frame format (lz4 frame spec 1.6.x, what Kafka's KafkaLZ4BlockOutputStream and librdkafka
// write): magic, FLG, BD, [content size 8], [dict id 4], header checksum 1; then blocks of
// [u32 LE size, high bit = stored uncompressed][data][block checksum 4 if FLG says so], ended by a
// zero size; [content checksum 4]. The checksums are not verified: the batch CRC covers all of it.
const LZ4_MAGIC = 0x184d2204;
/** lz4-napi's block decoder reads a u32 LE capacity in front of the block (lz4_flex's size-prepended form). */
const LZ4_CAPACITY_PREFIX = 4;
/** LZ4's worst case: a match of n bytes costs at least n / 255 bytes of input. */
const LZ4_MAX_RATIO = 255;

const unlz4 = (data: Uint8Array, maxBytes: number): Decompressed =>
  streamed('lz4', maxBytes, (sink) => {
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const need = (pos: number, n: number): void => {
      if (pos + n > data.length) throw new Error('truncated frame');
    };
    need(0, 7);
    if (v.getUint32(0, true) !== LZ4_MAGIC) throw new Error('not an lz4 frame (bad magic)');
    const flg = data[4];
    const bd = data[5];
    if (flg >> 6 !== 1 || (flg & 0x02) !== 0 || (bd & 0x8f) !== 0) throw new Error('unsupported lz4 frame descriptor');
    const blockMax = 1 << (2 * ((bd >> 4) & 7) + 8); // 4: 64 KiB, 5: 256 KiB, 6: 1 MiB, 7: 4 MiB
    if (blockMax < 64 * 1024) throw new Error('bad lz4 block size');
    if ((flg & 0x01) !== 0) throw new Error('lz4 frames with a dictionary are not supported');
    if ((flg & 0x20) === 0) {
      // Dependent blocks reference earlier output: decodable only as a whole frame.
      if (data.length * LZ4_MAX_RATIO > maxBytes) throw new Error('lz4 frame of dependent blocks too large to bound');
      sink.add(plain(lz4DecompressFrame(data as never)));
      return;
    }
    const blockChecksum = (flg & 0x10) !== 0 ? 4 : 0;
    let pos = 6 + ((flg & 0x08) !== 0 ? 8 : 0) + 1;
    for (;;) {
      need(pos, 4);
      const word = v.getUint32(pos, true);
      pos += 4;
      if (word === 0) break; // end mark (a content checksum may follow)
      const len = word & 0x7fffffff;
      if (len > blockMax) throw new Error(`lz4 block of ${len} bytes exceeds the frame's ${blockMax}`);
      need(pos, len + blockChecksum);
      const block = data.subarray(pos, pos + len);
      pos += len + blockChecksum;
      if (word !== len) {
        sink.add(block); // stored uncompressed
        continue;
      }
      sink.add(decodeLz4Block(block, blockMax)); // at most one block (<= 4 MiB) past the bound
    }
  });

/** One LZ4 block, decoded into at most `capacity` bytes (lz4_flex fails rather than exceed it). */
const decodeLz4Block = (block: Uint8Array, capacity: number): Uint8Array => {
  const input = new Uint8Array(LZ4_CAPACITY_PREFIX + block.length);
  new DataView(input.buffer).setUint32(0, capacity, true);
  input.set(block, LZ4_CAPACITY_PREFIX);
  return plain(lz4UncompressBlock(input));
};

/** A plain Uint8Array view of a codec's output (lz4-napi returns Node Buffers; records are views into it). */
const plain = (b: Uint8Array): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

/** Decompresses a record section. `maxBytes` bounds the output (CMP-1). */
export const decompress = (codec: number, data: Uint8Array, maxBytes = DEFAULT_MAX_DECOMPRESSED_BYTES): Decompressed => {
  switch (codec) {
    case Compression.NONE:
      return data.length > maxBytes ? corrupt(`record section exceeds ${maxBytes} bytes`) : { bytes: data };
    case Compression.GZIP:
      return gunzip(data, maxBytes);
    case Compression.SNAPPY:
      return unsnappy(data, maxBytes);
    case Compression.LZ4:
      return unlz4(data, maxBytes);
    case Compression.ZSTD:
      return unzstd(data, maxBytes);
    default:
      return unsupported(codec);
  }
};

const snappyXerial = (data: Uint8Array): Uint8Array => {
  const blocks: Uint8Array[] = [];
  for (let pos = 0; pos < data.length; pos += XERIAL_BLOCK_SIZE) {
    blocks.push(snappyCompress(data.subarray(pos, Math.min(data.length, pos + XERIAL_BLOCK_SIZE))));
  }
  const total = XERIAL_HEADER_SIZE + blocks.reduce((n, b) => n + 4 + b.length, 0);
  const out = new Uint8Array(total);
  const v = new DataView(out.buffer);
  out.set(XERIAL_MAGIC, 0);
  v.setInt32(8, 1);
  v.setInt32(12, 1);
  let pos = XERIAL_HEADER_SIZE;
  for (const b of blocks) {
    v.setInt32(pos, b.length);
    out.set(b, pos + 4);
    pos += 4 + b.length;
  }
  return out;
};

/** Compresses a record section. Throws for codecs we cannot encode: callers check canCompress. */
export const compress = (codec: number, data: Uint8Array): Uint8Array => {
  switch (codec) {
    case Compression.NONE:
      return data;
    case Compression.GZIP:
      return gzipSync(data, { mtime: 0 }); // mtime 0: no wall clock in the bytes (determinism)
    case Compression.SNAPPY:
      return snappyXerial(data);
    case Compression.LZ4:
      // A standard frame of independent blocks, as Kafka's Java client and librdkafka write
      // (lz4-napi takes a Buffer; any Uint8Array works at run time).
      return plain(lz4CompressFrame(data as never));
    default:
      throw new Error(`cannot compress with ${codecName(codec)} (canCompress is false)`);
  }
};
