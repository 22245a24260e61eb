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
const pushStream = (name: string, Decoder: new (ondata: (chunk: Uint8Array, final?: boolean) => void) => PushDecoder) =>
  (data: Uint8Array, maxBytes: number): Decompressed =>
    streamed(name, maxBytes, (sink) => {
      let ended = false;
      const d = new Decoder((chunk, final) => {
        sink.add(chunk);
        if (final) ended = true;
      });
      d.push(data, true);
      if (!ended) throw new Error('truncated stream');
    });

const gunzip = pushStream('gzip', Gunzip);
const unzstd = pushStream('zstd', ZstdDecompress);

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
      sink.add(snappyUncompress(data.subarray(pos, pos + len), maxBytes - sink.total));
      pos += len;
    }
  });

const unsnappy = (data: Uint8Array, maxBytes: number): Decompressed => {
  if (isXerial(data)) return unsnappyXerial(data, maxBytes);
  return streamed('snappy', maxBytes, (sink) => sink.add(snappyUncompress(data, maxBytes)));
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
