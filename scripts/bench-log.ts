// `npm run bench -- log [--quick]`: the partition log on real files against the machine's limit.
//
//  a. limit: sequential writes of W bytes rewriting a preallocated (zero-filled) file, each
//     followed by fdatasync, straight on a FileHandle (no Cairn code): MB/s. a' is the same loop
//     into new sparse files; a'' zero-fills each new file (1 MiB writes, one fdatasync) and then
//     rewrites it, the zero-fill counted in its time. A row's limit is the raw loop over the kind
//     of space its log writes: a where the log rewrites space (recycled segments, 'rc' rows);
//     max(a', a'') where it must write new space (fresh logs, 'ret' rows): no program can write new
//     data durably faster than the better of "allocate while writing" and "zero-fill, then
//     rewrite" (proofs-notes/log.md, "Throughput").
//  b. Cairn: core/log's PartitionLog driven by FileDisk, 1 KiB records appended by 2G/r
//     closed-loop producers of r-record batches in two waves, each wave's appends one turn of the
//     host (LOG-15: the log is corked around a completion's callbacks), so group commit puts one
//     wave, G records (W = G KiB), into each durable write; with commitDepth 2 the two waves'
//     commits overlap (recycled segments too since the seventh session, SEG-4). MB/s, records/s,
//     append-to-durable latency p50/p99, average write size and its p10-p90 spread (a spread
//     means commits do not carry one wave each), main-thread busy share, and b/a. Two tables: a
//     fresh log (default config, every segment new space) and the steady state of a log bounded
//     by retention, with segment recycling on (rc) and off (ret).
//  c. reads: sequential log.read of a warm (page-cached) segment through FileDisk, MB/s.
//  d. recovery: 1 GiB written through the log, no extra checkpoint, FileDisk closed as by a crash
//     after the last sync; a fresh PartitionLog on the same directory is timed to 'ready'.
//
// Flags: --quick (a short smoke run), --depth=N (commitDepth of the b rows; default the log's, 2), --no-spares (FileDisk zeroes new segments inline),
// --no-fuse (FileDisk runs every write and fdatasync separately, FDISK-8 off), --ops
// (per-op-kind counts and mean time between completions of the b rows; not latency: durable
// writes overlap, FDISK-10), --segment-mib=N (segment.bytes of the b rows;
// e.g. 1024: the window then writes into space zero-filled before it and never rolls, which
// isolates the cost of obtaining new space from the rest of the pipeline).
// Everything happens under one mkdtemp directory in os.tmpdir(), deleted at the end.

import { open, mkdtemp, rm } from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeLength, type DiskOp, type Effect } from '../core/io.ts';
import { encodeBatch } from '../core/records/batch.ts';
import { logConfig, type LogConfig } from '../core/log/config.ts';
import { PartitionLog } from '../core/log/partition-log.ts';
import type { ReadResult } from '../core/log/log-types.ts';
import { BATCH_HEADER_SIZE, BATCH_LOG_OVERHEAD, baseOffsetAt, lastOffsetDeltaAt } from '../core/records/batch-header.ts';
import { FileDisk, realStamp, type DiskInput } from '../runtime-node/file-disk.ts';

/** `--segment-mib=N`: segment.bytes of the b rows (default: the log's default, 64 MiB). */
let segmentOverride: Partial<LogConfig> = {};

/** FileDisk options for every log in the bench (`--no-spares` turns FDISK-7 off to compare). */
let diskOptions: { spares: boolean; fuseSync: boolean } = { spares: true, fuseSync: true };

const KiB = 1024;
const MiB = 1024 * KiB;
const RECORD_BYTES = KiB; // one 1-record batch of exactly 1 KiB on disk
/** A new segment's zero prefix (an empty segment, partition-log.ts): a write this small to a
 * .log file carries no data. */
const ZERO_PREFIX_BYTES = BATCH_LOG_OVERHEAD;

export interface Options {
  readonly groups: readonly number[];
  /** Extra b rows whose producers append multi-record batches (amortises per-append cost). */
  readonly batchedRows: readonly { readonly g: number; readonly perBatch: number }[];
  /** a and b alternate this many times per group; the best of each is reported (shared machine). */
  readonly rounds: number;
  readonly limitMs: number;
  readonly appendMs: number;
  readonly warmupMs: number;
  readonly recoveryBytes: number;
  readonly readBytes: number;
  /** Steady-state rows (each with and without segment recycling). */
  readonly steadyRows: readonly { readonly g: number; readonly perBatch: number }[];
}

export const fullOptions: Options = { groups: [1, 16, 64, 256], batchedRows: [{ g: 256, perBatch: 16 }], rounds: 5, limitMs: 500, appendMs: 1000, warmupMs: 250, recoveryBytes: 1024 * MiB, readBytes: 512 * MiB, steadyRows: [{ g: 256, perBatch: 16 }, { g: 64, perBatch: 1 }, { g: 256, perBatch: 1 }] };
const quickOptions: Options = { groups: [1, 64], batchedRows: [{ g: 64, perBatch: 16 }], rounds: 1, limitMs: 400, appendMs: 800, warmupMs: 200, recoveryBytes: 64 * MiB, readBytes: 32 * MiB, steadyRows: [{ g: 64, perBatch: 16 }] };

// ---------------------------------------------------------------------------------------------
// The log on FileDisk

interface Counters {
  dataWrites: number;
  dataWriteBytes: number;
  syncs: number;
  reads: number;
  readBytes: number;
  /** Per op kind (data writes as 'write.log'): count and total ms from start to completion. */
  ops: Map<string, { n: number; ms: number }>;
  /** Sizes of the data writes (the first 1M): their spread shows whether commits carry one wave. */
  writeSizes: number[];
}

const zeroCounters = (): Counters => ({ dataWrites: 0, dataWriteBytes: 0, syncs: 0, reads: 0, readBytes: 0, ops: new Map(), writeSizes: [] });

/** `--ops`: per op kind of the b rows, the time between completions: from the later of an op's
 * submission and its predecessor's completion to its own completion. That is an op's run time
 * only when ops run one at a time; durable writes overlap (FDISK-10), so for them it is the
 * interval between completions, not their latency. */
let timeOps = false;
export const setTimeOps = (on: boolean): void => {
  timeOps = on;
};

/** Hosts one PartitionLog on a FileDisk: runs its disk effects in order, routes completions. */
class LogHost {
  readonly log: PartitionLog;
  counters = zeroCounters();
  private nextOpId = 1;
  /** Appends awaiting durability, in offset order: last offsets and callbacks (parallel arrays). */
  private readonly waiterOffsets: number[] = [];
  private readonly waiterDones: (() => void)[] = [];
  private waiterHead = 0;
  /**
   * The clock as read once per event-loop turn (a broker reads it once per network read, not per
   * batch): refreshed on every disk completion and by `tick()`.
   */
  private stamp = realStamp();
  private readonly readWaiters = new Map<number, (r: ReadResult) => void>();
  private nextToken = 1;
  private onReady: (() => void) | null = null;
  private readonly deliver = (input: DiskInput): void => this.completed(input);
  /** With --ops: [kind, submitted at] of ops in flight, in order. */
  private readonly opsInFlight: [string, number][] = [];
  private lastDoneAt = 0;
  /** Steady-state rows: keep at most this many segments (retention on every durable event); 0 = off. */
  retainSegments = 0;
  /** Segments deleted (or recycled) by retention so far. */
  deletedSegments = 0;

  constructor(
    readonly disk: FileDisk,
    config: LogConfig,
  ) {
    this.log = new PartitionLog(config, { nextDiskOpId: () => this.nextOpId++ });
    this.slabs = new Slabs(this.log);
  }

  start(): Promise<void> {
    return new Promise((resolve) => {
      this.onReady = resolve;
      this.run(this.log.start(realStamp()));
      this.events();
    });
  }

  private idleWaiters: (() => void)[] = [];

  /**
   * Resolves once the log has no disk op outstanding. The disk may only be closed then: the log
   * emits some ops from completions (a checkpoint's rename after its sync), and FileDisk fails
   * ops submitted after close() with EIO (FDISK-6), which takes the log offline.
   */
  idle(): Promise<void> {
    if (this.log.q.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The clock as last read (once per event-loop turn), in ms. */
  get nowMs(): number {
    return this.stamp.now;
  }

  /** Reads the clock again (before appends that do not follow a disk completion). */
  tick(): void {
    this.stamp = realStamp();
  }

  /** Network-read buffers: reused once the log holds no view into them. */
  readonly slabs: Slabs;

  /** Runs `fn` (which appends) as one turn of a broker: the log is corked meanwhile (LOG-15). */
  turn(fn: () => void): void {
    this.log.cork();
    try {
      fn();
    } finally {
      this.run(this.log.uncork());
    }
  }

  /** Appends a copy of `template` carved from a slab; `done` runs once it is durable. */
  appendCopy(template: Uint8Array, done: () => void): void {
    this.append(this.slabs.copy(template), done);
  }

  /** Appends `batch` (ownership passes to the log); `done` runs once it is durable. */
  append(batch: Uint8Array, done: () => void): void {
    const r = this.log.append(batch, 0, this.stamp);
    if (r.error !== 'NONE') throw new Error(`append failed: ${r.error}`);
    this.slabs.note(r.lastOffset);
    this.waiterOffsets.push(r.lastOffset);
    this.waiterDones.push(done);
    if (r.effects.length > 0) this.run(r.effects);
    if (this.log.events.length > 0) this.events();
  }

  read(fetchOffset: number, maxBytes: number): Promise<ReadResult> {
    return new Promise((resolve) => {
      const token = this.nextToken++;
      this.readWaiters.set(token, resolve);
      this.run(this.log.read(fetchOffset, maxBytes, this.log.durableOffset, token));
      this.events();
    });
  }

  private run(effects: readonly Effect[]): void {
    for (const e of effects) {
      if (e.tag !== 'Disk') throw new Error(`log emitted ${e.tag}`);
      this.count(e.op);
      if (timeOps) this.opsInFlight.push([e.op.kind === 'write' && e.op.file.endsWith('.log') ? 'write.log' : e.op.kind, performance.now()]);
      this.disk.submit(e.id, e.op, this.deliver);
    }
  }

  private count(op: DiskOp): void {
    const c = this.counters;
    const bytes = op.kind === 'write' && op.file.endsWith('.log') ? writeLength(op.data) : 0;
    if (bytes > ZERO_PREFIX_BYTES) {
      c.dataWrites++;
      c.dataWriteBytes += bytes;
      if (c.writeSizes.length < 1_000_000) c.writeSizes.push(bytes);
      if (op.kind === 'write' && op.sync === true) c.syncs++; // a durable write syncs itself
    } else if (op.kind === 'sync') c.syncs++;
  }

  private completed(input: DiskInput): void {
    this.stamp = input;
    if (timeOps) {
      const [kind, submittedAt] = this.opsInFlight.shift()!;
      const now = performance.now();
      const o = this.counters.ops.get(kind) ?? { n: 0, ms: 0 };
      o.n++;
      o.ms += now - Math.max(submittedAt, this.lastDoneAt);
      this.counters.ops.set(kind, o);
      this.lastDoneAt = now;
    }
    if (input.tag === 'DiskDone' && input.op === 'read') {
      this.counters.reads++;
      this.counters.readBytes += input.result.data?.length ?? 0;
    }
    // Effects first, in emission order; callbacks (which may append) only after, in one corked
    // turn (LOG-15: their appends go out as one commit, not the first alone).
    this.turn(() => {
      this.run(this.log.onDisk(input));
      this.events();
    });
    if (this.log.q.size === 0 && this.idleWaiters.length > 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private events(): void {
    for (const ev of this.log.takeEvents()) {
      if (ev.kind === 'failed') throw new Error(`log failed: ${ev.error}`);
      if (ev.kind === 'ready') {
        const r = this.onReady;
        this.onReady = null;
        r?.();
      } else if (ev.kind === 'durable') {
        this.releaseDurable(ev.offset);
        if (this.retainSegments > 0 && this.log.segments.length > this.retainSegments) this.retain();
      } else if (ev.kind === 'retention') this.deletedSegments += ev.deletedSegments;
      else if (ev.kind === 'read') {
        const w = this.readWaiters.get(ev.token);
        this.readWaiters.delete(ev.token);
        w?.(ev.result);
      }
    }
  }

  /** A broker's retention pass: the high watermark follows durability (one replica). */
  private retain(): void {
    this.log.setHighWatermark(this.log.durableOffset);
    const effects = this.log.applyRetention(this.stamp);
    if (effects.length > 0) this.run(effects);
  }

  private releaseDurable(offset: number): void {
    const offsets = this.waiterOffsets;
    // A callback may append (pushing waiters) or release further ones: re-read the head each time.
    while (this.waiterHead < offsets.length && offsets[this.waiterHead]! < offset) {
      const done = this.waiterDones[this.waiterHead]!;
      this.waiterHead++;
      done();
    }
    if (this.waiterHead > 4096 && this.waiterHead * 2 > offsets.length) {
      offsets.splice(0, this.waiterHead);
      this.waiterDones.splice(0, this.waiterHead);
      this.waiterHead = 0;
    }
  }
}

/** makeBatch's first guess of one record's framing around its value (length, attributes, deltas,
 * key and value lengths, header count: 9 bytes at 1 KiB); the last value absorbs the error. */
const RECORD_FRAMING_GUESS = 12;

/** A batch of `records` records, exactly `records * bytesPerRecord` bytes (values padded to fit). */
const makeBatch = (bytesPerRecord: number, records = 1): Uint8Array => {
  const total = bytesPerRecord * records;
  const build = (valueBytes: number, lastValueBytes: number): Uint8Array =>
    encodeBatch({
      baseOffset: 0,
      partitionLeaderEpoch: -1,
      baseTimestamp: Date.now(),
      records: Array.from({ length: records }, (_, i) => ({
        offsetDelta: i,
        timestampDelta: 0,
        key: null,
        value: new Uint8Array(i === records - 1 ? lastValueBytes : valueBytes).fill(0x61),
      })),
    });
  const value = bytesPerRecord - RECORD_FRAMING_GUESS - Math.ceil(BATCH_HEADER_SIZE / records);
  let last = value;
  for (let i = 0; i < 8; i++) {
    const b = build(value, last);
    if (b.length === total) return b;
    last += total - b.length;
  }
  throw new Error(`cannot build a ${total}-byte batch of ${records} records`);
};

/**
 * Copies of a batch carved from 1 MiB slabs, as a broker's batches arrive inside larger network
 * reads (a separate 1 KiB allocation per batch costs ~1 us, more than the log's work). The log
 * keeps the views it is given (tail cache, pending and in-flight writes), so a full slab is
 * reused only once the lowest offset the log may still hold a view of (not yet durable, or in
 * its tail cache) has passed every batch in it, as a broker's pool of network buffers would be.
 * Fresh slabs cost zeroing, page faults and GC on the main thread, and on this
 * 2-core machine that memory traffic measurably slows the write running on the other core.
 */
class Slabs {
  private slab: Uint8Array = new Uint8Array(MiB);
  private at = 0;
  /** The last offset appended from the current slab (noted by the caller after the append). */
  private last = -1;
  private readonly full: { readonly slab: Uint8Array; readonly last: number }[] = [];
  private fullHead = 0;

  constructor(private readonly log: PartitionLog) {}

  copy(template: Uint8Array): Uint8Array {
    if (this.at + template.length > this.slab.length) this.nextSlab(template.length);
    const view = this.slab.subarray(this.at, this.at + template.length);
    view.set(template);
    this.at += template.length;
    return view;
  }

  /** Records that the batch just copied was appended with last offset `offset`. */
  note(offset: number): void {
    this.last = offset;
  }

  private nextSlab(need: number): void {
    const size = Math.max(MiB, need);
    this.full.push({ slab: this.slab, last: this.last });
    const oldest = this.full[this.fullHead];
    if (oldest !== undefined && oldest.last < this.heldFrom() && oldest.slab.length >= size) {
      this.fullHead++;
      if (this.fullHead > 64) {
        this.full.splice(0, this.fullHead);
        this.fullHead = 0;
      }
      this.slab = oldest.slab;
    } else {
      this.slab = new Uint8Array(size);
    }
    this.at = 0;
    this.last = -1;
  }

  /** The lowest offset the log may still hold a view of (not yet durable, or in its tail cache). */
  private heldFrom(): number {
    return Math.min(this.log.durableOffset, this.log.tail.startOffset(this.log.logEndOffset));
  }
}

const benchConfig = (over: Partial<LogConfig> = {}): LogConfig => logConfig({ dir: 'bench-0', topic: 'bench', partition: 0, ...over });

// ---------------------------------------------------------------------------------------------
// a. the machine's limit

interface Rate {
  mbps: number;
  opsPerSec: number;
}

/** `writes` writes of `writeBytes` in `elapsedMs`. */
const rate = (writes: number, writeBytes: number, elapsedMs: number): Rate => ({
  mbps: (writes * writeBytes) / MiB / (elapsedMs / 1000),
  opsPerSec: writes / (elapsedMs / 1000),
});

const zeroFill = async (path: string, sizeBytes: number): Promise<void> => {
  const fh = await open(path, 'w+');
  const zero = new Uint8Array(MiB);
  for (let at = 0; at < sizeBytes; at += MiB) await fh.write(zero, 0, Math.min(MiB, sizeBytes - at), at);
  await fh.datasync();
  await fh.close();
};

/**
 * a: sequential writes of W bytes, each followed by fdatasync, for `ms`, through a 64 MiB file:
 * rewriting one zero-filled file from its start each time it is full (never growing it), or with
 * `fresh` (a'), into new files extended sparsely (ftruncate, as FileDisk extends segments above
 * 48 KiB writes, FDISK-4), a new file when one is full. a' is the limit of a log that cannot reuse
 * space: every write allocates blocks, and fdatasync then writes that metadata too.
 */
export const measureLimit = async (dir: string, writeBytes: number, ms: number, fresh = false): Promise<Rate> => {
  const fileBytes = 64 * MiB;
  const rewritten = join(dir, `limit-${writeBytes}`);
  if (!fresh) await zeroFill(rewritten, fileBytes);
  const reused = fresh ? null : await open(rewritten, 'r+');
  const buf = new Uint8Array(writeBytes).fill(0x62);
  let n = 0;
  let files = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    const path = reused === null ? join(dir, `limit-new-${writeBytes}-${files++}`) : rewritten;
    const fh = reused ?? (await open(path, 'w+'));
    if (reused === null) await fh.truncate(fileBytes);
    for (let at = 0; at + writeBytes <= fileBytes && elapsed < ms; at += writeBytes, elapsed = performance.now() - t0) {
      await fh.write(buf, 0, writeBytes, at);
      await fh.datasync();
      n++;
    }
    if (reused === null) {
      await fh.close();
      await rm(path);
    }
  }
  if (reused !== null) {
    await reused.close();
    await rm(rewritten);
  }
  return rate(n, writeBytes, elapsed);
};

/**
 * a'': the limit of a log that zero-fills new space before writing it (FDISK-7's strategy): per
 * new 64 MiB file, zero-fill in 1 MiB writes and one fdatasync, then rewrite it with W-byte writes
 * each followed by fdatasync; the zero-fill's time counts. Against a' (allocating while writing)
 * it says whether preallocating by zero-fill could pay at this write size.
 */
export const measureZeroFilledLimit = async (dir: string, writeBytes: number, ms: number): Promise<Rate> => {
  const fileBytes = 64 * MiB;
  const buf = new Uint8Array(writeBytes).fill(0x62);
  const zero = new Uint8Array(MiB);
  let n = 0;
  let files = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    const path = join(dir, `limit-zf-${writeBytes}-${files++}`);
    const fh = await open(path, 'w+');
    for (let at = 0; at < fileBytes; at += MiB) await fh.write(zero, 0, MiB, at);
    await fh.datasync();
    for (let at = 0; at + writeBytes <= fileBytes && elapsed < ms; at += writeBytes, elapsed = performance.now() - t0) {
      await fh.write(buf, 0, writeBytes, at);
      await fh.datasync();
      n++;
    }
    await fh.close();
    await rm(path);
    elapsed = performance.now() - t0;
  }
  return rate(n, writeBytes, elapsed);
};

/**
 * a with `depth` writes in flight: W-byte writes on an O_DSYNC handle rewriting a zero-filled
 * 64 MiB file, `depth` at a time (what a pipelined log, commitDepth = depth, can use).
 */
export const measureOverlap = async (dir: string, writeBytes: number, ms: number, depth: number): Promise<Rate> => {
  const fileBytes = 64 * MiB;
  const path = join(dir, `overlap-${writeBytes}`);
  await zeroFill(path, fileBytes);
  const fh = await open(path, constants.O_RDWR | constants.O_DSYNC);
  const buf = new Uint8Array(writeBytes).fill(0x62);
  let n = 0;
  let at = 0;
  const t0 = performance.now();
  const worker = async (): Promise<void> => {
    while (performance.now() - t0 < ms) {
      const pos = at;
      at = at + 2 * writeBytes > fileBytes ? 0 : at + writeBytes;
      await fh.write(buf, 0, writeBytes, pos);
      n++;
    }
  };
  await Promise.all(Array.from({ length: depth }, worker));
  const elapsed = performance.now() - t0;
  await fh.close();
  await rm(path);
  return rate(n, writeBytes, elapsed);
};

// ---------------------------------------------------------------------------------------------
// b. appends with group commit

interface AppendResult {
  mbps: number;
  recordsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  avgWriteBytes: number;
  /** 10th and 90th percentile of the data write sizes (bytes). */
  writeP10: number;
  writeP90: number;
  syncsPerSec: number;
  ops: Counters['ops'];
  /** Share of the window the main thread was busy (event-loop utilisation). */
  mainBusy: number;
}

/**
 * Closed-loop producers on `host` appending copies of `template`: each appends again once its
 * append is durable, until `limit` appends were made or `stop()` was called. One callback per
 * producer for its whole life (no closure per append). `durable` gets each append's latency on
 * the host's clock, read once per event-loop turn (`host.nowMs`): from the start of the turn that
 * appended to the disk completion that made the append durable, so it errs long by at most the
 * appending turn's run time; two clock reads per append cost the main thread more than the log's
 * own work at 1-record batches.
 */
class ClosedLoop {
  /** Appends made so far. */
  appended = 0;
  private active = 0;
  private running = true;
  private wake: () => void = () => {};
  /** Resolves once the producers stopped (limit reached or stop()) and no append is in flight. */
  readonly stopped = new Promise<void>((r) => (this.wake = r));

  constructor(
    private readonly host: LogHost,
    private readonly template: Uint8Array,
    private readonly limit = Infinity,
    private readonly durable: (latencyMs: number) => void = () => {},
  ) {}

  /** A new producer; calling it makes its first append. */
  producer(): () => void {
    let t0 = 0;
    const go = (): void => {
      this.appended++;
      this.active++;
      t0 = this.host.nowMs;
      this.host.appendCopy(this.template, done);
    };
    const done = (): void => {
      this.active--;
      this.durable(this.host.nowMs - t0);
      if (this.running && this.appended < this.limit) go();
      else if (this.active === 0) this.wake();
    };
    return go;
  }

  stop(): Promise<void> {
    this.running = false;
    return this.stopped;
  }
}

/** A sorted copy of the first `n` of `xs` (a Float64Array sorts numerically). */
const sortedCopy = (xs: Float64Array | readonly number[], n = xs.length): Float64Array =>
  (xs instanceof Float64Array ? xs.subarray(0, n).slice() : Float64Array.from(xs.slice(0, n))).sort();

const percentile = (xs: Float64Array, n: number, p: number): number => {
  if (n === 0) return NaN;
  return sortedCopy(xs, n)[Math.min(n - 1, Math.floor((p / 100) * n))]!;
};

/** The median; of an even count, the mean of the middle two. */
const median = (xs: readonly number[]): number => {
  const s = sortedCopy(xs);
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/**
 * 2G closed-loop producers, started in two waves of G: each commit carries one wave, G batches.
 * Returns once all producers stopped.
 */
export const measureAppend = async (
  dir: string,
  group: number,
  o: Options,
  recordsPerBatch = 1,
  config: Partial<LogConfig> = {},
  steady: Steady | null = null,
): Promise<AppendResult> => {
  if (group % recordsPerBatch !== 0) throw new Error('group must be a multiple of recordsPerBatch');
  const producers = group / recordsPerBatch; // per wave: G records in flight, G waiting
  const data = join(dir, `append-${group}`);
  const disk = new FileDisk(data, diskOptions);
  const host = new LogHost(disk, benchConfig(steady === null ? config : { ...config, ...steadyConfig(config, steady) }));
  if (steady !== null) host.retainSegments = steady.segments;
  await host.start();
  await disk.sparesSettled(); // steady state: the next segment's spare is ready (FDISK-7)
  const template = makeBatch(RECORD_BYTES, recordsPerBatch);
  const latencies = new Float64Array(4_000_000);
  let measured = 0;
  let measuring = false;
  const loop = new ClosedLoop(host, template, Infinity, (ms) => {
    if (measuring && measured < latencies.length) latencies[measured++] = ms;
  });
  // Two waves of G producers, each started in a turn of its own (LOG-15: a turn's appends are one
  // commit), so each commit carries one wave, G. Two, not commitDepth+1: with three or more, the
  // waves released while a commit that cannot overlap (a roll) is in flight queue together and
  // merge into one commit for good (closed-loop producers never split again: measured 256 + 512
  // KiB per pair), and the writes no longer match the limit's size. With two there is never more
  // than one wave waiting, and with commitDepth 2 the second wave's commit overlaps the first's.
  for (let wave = 0; wave < 2; wave++) {
    host.tick();
    host.turn(() => {
      for (let i = 0; i < producers; i++) loop.producer()();
    });
    await new Promise<void>((r) => setImmediate(r));
  }
  await sleep(o.warmupMs);
  // Steady state: fill until retention has deleted (recycled) more segments than there are slots,
  // so the measured window rolls into recycled files (or, without recycling, into fresh ones).
  for (let waited = 0; steady !== null && host.deletedSegments < steady.warmDeletes && waited < 60_000; waited += 20) await sleep(20);
  if (steady !== null && host.deletedSegments < steady.warmDeletes) throw new Error('steady state: retention never caught up');
  host.counters = zeroCounters();
  measuring = true;
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await sleep(o.appendMs);
  measuring = false;
  const mainBusy = performance.eventLoopUtilization(elu0).utilization;
  const seconds = (performance.now() - t0) / 1000;
  const c = host.counters;
  const sizes = sortedCopy(c.writeSizes); // p10 / p90 below, as percentile() picks them
  await loop.stop();
  await host.idle();
  await disk.close();
  await rm(data, { recursive: true, force: true });
  return {
    mbps: (measured * recordsPerBatch * RECORD_BYTES) / MiB / seconds,
    recordsPerSec: (measured * recordsPerBatch) / seconds,
    p50Ms: percentile(latencies, measured, 50),
    p99Ms: percentile(latencies, measured, 99),
    avgWriteBytes: c.dataWrites === 0 ? 0 : c.dataWriteBytes / c.dataWrites,
    writeP10: sizes.length === 0 ? NaN : sizes[Math.floor(0.1 * sizes.length)]!,
    writeP90: sizes.length === 0 ? NaN : sizes[Math.floor(0.9 * sizes.length)]!,
    syncsPerSec: c.syncs / seconds,
    ops: c.ops,
    mainBusy,
  };
};

/** Steady-state rows: the log bounded by retention.bytes = `segments` segments. */
interface Steady {
  readonly segments: number;
  readonly recycling: boolean;
  /** Retention deletions before the window opens (> the 2 recycle slots: they are in use). */
  readonly warmDeletes: number;
}

const steadyConfig = (config: Partial<LogConfig>, st: Steady): Partial<LogConfig> => {
  const segmentBytes = config.segmentBytes ?? 64 * MiB;
  return { segmentBytes, retentionBytes: st.segments * segmentBytes, retentionMs: -1, segmentRecycling: st.recycling };
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// d (fill) and c. reads, then d. recovery

/** Appends `totalBytes` of 1 KiB batches with 2*group producers; returns MB/s. */
const fill = async (host: LogHost, totalBytes: number, group: number): Promise<number> => {
  const template = makeBatch(RECORD_BYTES);
  const total = Math.ceil(totalBytes / RECORD_BYTES);
  const t0 = performance.now();
  const loop = new ClosedLoop(host, template, total);
  host.turn(() => {
    for (let i = 0; i < 2 * group && loop.appended < total; i++) loop.producer()();
  });
  await loop.stopped;
  return totalBytes / MiB / ((performance.now() - t0) / 1000);
};

const measureReads = async (host: LogHost, bytes: number): Promise<{ mbps: number; bytes: number }> => {
  let offset = host.log.segments[0]!.baseOffset;
  let total = 0;
  const t0 = performance.now();
  for (let rounds = 0; total < bytes && rounds < 1_000_000; rounds++) {
    const r = await host.read(offset, MiB);
    if (r.error !== 'NONE') throw new Error(`read failed: ${r.error}`);
    const last = r.chunks[r.chunks.length - 1];
    if (last === undefined) break;
    total += r.sizeBytes;
    offset = baseOffsetAt(last, 0) + lastOffsetDeltaAt(last, 0) + 1;
  }
  return { mbps: total / MiB / ((performance.now() - t0) / 1000), bytes: total };
};

interface RecoveryResult {
  fillMbps: number;
  logBytes: number;
  segments: number;
  readMbps: number;
  readBytes: number;
  recoveryMs: number;
  scannedBytes: number;
  readsIssued: number;
  logEndOffset: number;
  allocFromSpare: number;
  allocInline: number;
}

const measureRecovery = async (dir: string, o: Options): Promise<RecoveryResult> => {
  const data = join(dir, 'recovery');
  const disk1 = new FileDisk(data, diskOptions);
  const host1 = new LogHost(disk1, benchConfig());
  await host1.start();
  const fillMbps = await fill(host1, o.recoveryBytes, 256);
  const reads = await measureReads(host1, o.readBytes);
  const segments = host1.log.segments.length;
  const { fromSpare: allocFromSpare, inline: allocInline } = disk1.allocations;
  const endBefore = host1.log.logEndOffset;
  await host1.idle();
  await disk1.close(); // no checkpoint beyond what the log wrote itself; nothing unsynced is pending
  const disk2 = new FileDisk(data, diskOptions);
  const host2 = new LogHost(disk2, benchConfig());
  const t0 = performance.now();
  await host2.start();
  const recoveryMs = performance.now() - t0;
  if (host2.log.logEndOffset !== endBefore) throw new Error(`recovery lost data: ${host2.log.logEndOffset} != ${endBefore}`);
  await host2.idle();
  await disk2.close();
  return {
    fillMbps,
    logBytes: o.recoveryBytes,
    segments,
    readMbps: reads.mbps,
    readBytes: reads.bytes,
    recoveryMs,
    scannedBytes: host2.counters.readBytes,
    readsIssued: host2.counters.reads,
    logEndOffset: endBefore,
    allocFromSpare,
    allocInline,
  };
};

// ---------------------------------------------------------------------------------------------
// e. the log's own CPU cost: every disk op completes at once, in memory, without I/O

/** Appends per second PartitionLog sustains when its disk ops cost nothing (groups of `group`). */
export const measureCpuCeiling = (group: number, appends: number, recordsPerBatch = 1): number => {
  let id = 1;
  const log = new PartitionLog(benchConfig({ segmentBytes: 1 << 30 }), { nextDiskOpId: () => id++ });
  const pending: Effect[] = [];
  const complete = (e: Effect): Effect[] => {
    if (e.tag !== 'Disk') throw new Error(`log emitted ${e.tag}`);
    const result = e.op.kind === 'list' ? { entries: [] } : e.op.kind === 'stat' ? { size: -1 } : {};
    return log.onDisk({ tag: 'DiskDone', id: e.id, result });
  };
  const drain = (): void => {
    for (let i = 0; i < pending.length; i++) pending.push(...complete(pending[i]!));
    pending.length = 0;
    log.takeEvents();
  };
  pending.push(...log.start(realStamp()));
  drain();
  if (log.state !== 'ready') throw new Error('cpu ceiling: log not ready');
  const template = makeBatch(RECORD_BYTES, recordsPerBatch);
  const slabs = new Slabs(log);
  const t0 = performance.now();
  for (let n = 0; n < appends; ) {
    const stamp = realStamp(); // once per group, as LogHost reads the clock once per event-loop turn
    log.cork(); // one group, one turn (LOG-15), as LogHost runs it
    for (let i = 0; i < group; i++, n++) {
      const r = log.append(slabs.copy(template), 0, stamp);
      if (r.error !== 'NONE') throw new Error(`append failed: ${r.error}`);
      slabs.note(r.lastOffset);
      pending.push(...r.effects);
    }
    pending.push(...log.uncork());
    drain();
  }
  return appends / ((performance.now() - t0) / 1000);
};

// ---------------------------------------------------------------------------------------------

const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');
const f2 = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : '-');
const pad = (s: string, n: number): string => s.padStart(n);

/** One measured configuration: the best of its rounds, and the in-round pairings. */
interface Row {
  readonly g: number;
  readonly perBatch: number;
  readonly mode: string;
  readonly a: Rate;
  /** a' and a'' (null for rows whose log rewrites space: their limit is a). */
  readonly aNew: Rate | null;
  readonly aZero: Rate | null;
  readonly b: AppendResult;
  /** Per round, b over that round's limit (a, or max(a', a'')). */
  readonly paired: readonly number[];
}

/** A row's limit: a where its log rewrites space, else the better way to write new space. */
const limitOf = (r: Pick<Row, 'a' | 'aNew' | 'aZero'>): number =>
  r.aNew === null || r.aZero === null ? r.a.mbps : Math.max(r.aNew.mbps, r.aZero.mbps);

const header = (): string =>
  [pad('group', 5), pad('r/bat', 5), pad('write', 7), pad('mode', 6), pad('a MB/s', 7), pad("a' MB/s", 7), pad("a'' MB/s", 8), pad('b MB/s', 7), pad('b rec/s', 8), pad('b syn/s', 7), pad('avg wr', 7), pad('wr p10-p90', 11), pad('p50 ms', 6), pad('p99 ms', 6), pad('main', 5), pad('b/a', 5), pad('b/lim', 5), pad('pair', 5)].join(' ');

const printRow = (r: Row, ratios: string[]): void => {
  const { b, a, aNew, aZero } = r;
  const ratio = b.mbps / a.mbps;
  const toLimit = b.mbps / limitOf(r);
  ratios.push(`g${r.g}${r.perBatch > 1 ? `/${r.perBatch}` : ''}${r.mode === 'fresh' ? '' : `+${r.mode}`}=${(toLimit * 100).toFixed(0)}%`);
  console.log(
    [
      pad(String(r.g), 5),
      pad(String(r.perBatch), 5),
      pad(`${(r.g * RECORD_BYTES) / KiB}KiB`, 7),
      pad(r.mode, 6),
      pad(f1(a.mbps), 7),
      pad(aNew === null ? '-' : f1(aNew.mbps), 7),
      pad(aZero === null ? '-' : f1(aZero.mbps), 8),
      pad(f1(b.mbps), 7),
      pad(b.recordsPerSec.toFixed(0), 8),
      pad(b.syncsPerSec.toFixed(0), 7),
      pad(`${(b.avgWriteBytes / KiB).toFixed(1)}K`, 7),
      pad(`${(b.writeP10 / KiB).toFixed(0)}-${(b.writeP90 / KiB).toFixed(0)}K`, 11),
      pad(f2(b.p50Ms), 6),
      pad(f2(b.p99Ms), 6),
      pad(`${(b.mainBusy * 100).toFixed(0)}%`, 5),
      pad(`${(ratio * 100).toFixed(0)}%`, 5),
      pad(`${(toLimit * 100).toFixed(0)}%`, 5),
      pad(`${(median(r.paired) * 100).toFixed(0)}%`, 5),
    ].join(' '),
  );
  if (timeOps) {
    const parts = [...b.ops].map(([k, op]) => `${k} ${op.n}x${(op.ms / op.n).toFixed(3)}ms`);
    console.log(`      b ops (best round), count x mean time between completions: ${parts.join(', ')}`);
  }
};

/**
 * Rounds of the row's limits (a; a' and a'' too where its log writes new space) alternating with
 * b; keeps the best of each.
 */
const measureRow = async (dir: string, o: Options, g: number, perBatch: number, steady: Steady | null, rounds: number): Promise<Row> => {
  const newSpace = steady === null || !steady.recycling;
  let a: Rate = { mbps: 0, opsPerSec: 0 };
  let aNew: Rate | null = null;
  let aZero: Rate | null = null;
  let b: AppendResult | null = null;
  const paired: number[] = [];
  const better = (x: Rate | null, y: Rate): Rate => (x === null || y.mbps > x.mbps ? y : x);
  for (let round = 0; round < rounds; round++) {
    const ar = await measureLimit(dir, g * RECORD_BYTES, o.limitMs);
    const an = newSpace ? await measureLimit(dir, g * RECORD_BYTES, o.limitMs, true) : null;
    const az = newSpace ? await measureZeroFilledLimit(dir, g * RECORD_BYTES, o.limitMs) : null;
    const br = await measureAppend(dir, g, o, perBatch, segmentOverride, steady);
    paired.push(br.mbps / limitOf({ a: ar, aNew: an, aZero: az }));
    a = better(a, ar);
    if (an !== null) aNew = better(aNew, an);
    if (az !== null) aZero = better(aZero, az);
    if (b === null || br.mbps > b.mbps) b = br;
  }
  if (b === null) throw new Error('no rounds');
  return { g, perBatch, mode: steady === null ? 'fresh' : steady.recycling ? 'rc' : 'ret', a, aNew, aZero, b, paired };
};

/**
 * Steady state: the log bounded by retention.bytes (4 segments), retention run on every durable
 * event, measured once retention has deleted >= 3 segments, so the window's rolls reuse recycled
 * files ('rc', segmentRecycling on) or take new ones ('ret', off).
 */
const steadyRows = async (dir: string, o: Options, ratios: string[]): Promise<void> => {
  const segments = 4;
  const segMiB = (segmentOverride.segmentBytes ?? 64 * MiB) / MiB;
  console.log(`\nsteady state: retention.bytes = ${segments} x ${segMiB} MiB segments, retention on every durable event, window after >= 3 deletions`);
  console.log('rc = segmentRecycling on (rolls reuse deleted segments\' files), ret = off (rolls take new files)');
  console.log(header());
  const rows = o.rounds > 1 ? o.steadyRows : o.steadyRows.slice(0, 1);
  for (const { g, perBatch } of rows) {
    for (const recycling of [true, false]) {
      const row = await measureRow(dir, o, g, perBatch, { segments, recycling, warmDeletes: 3 }, Math.min(o.rounds, 3));
      printRow(row, ratios);
    }
  }
};

export const run = async (args: string[]): Promise<void> => {
  const o = args.includes('--quick') ? quickOptions : fullOptions;
  diskOptions = { spares: !args.includes('--no-spares'), fuseSync: !args.includes('--no-fuse') };
  timeOps = args.includes('--ops');
  const segArg = args.find((a) => a.startsWith('--segment-mib='));
  const depthArg = args.find((a) => a.startsWith('--depth='));
  segmentOverride = {
    ...(segArg === undefined ? {} : { segmentBytes: Number(segArg.slice(14)) * MiB }),
    ...(depthArg === undefined ? {} : { commitDepth: Number(depthArg.slice(8)) }),
  };
  const depth = segmentOverride.commitDepth ?? benchConfig().commitDepth;
  const dir = await mkdtemp(join(tmpdir(), 'cairn-bench-'));
  const started = performance.now();
  try {
    console.log(`cairn log bench: 1 KiB records, dir ${dir}, node ${process.version}, spares ${diskOptions.spares ? 'on' : 'off'}, write+sync fusion ${diskOptions.fuseSync ? 'on' : 'off'}${segmentOverride.segmentBytes !== undefined ? `, b segments ${segmentOverride.segmentBytes / MiB} MiB` : ''}`);
    console.log('a = write+fdatasync limit rewriting a preallocated file (raw FileHandle, no Cairn code); a\' = the same into new sparse files;');
    console.log("a'' = zero-fill each new file, then rewrite it (zero-fill time counted); lim = a for rows rewriting space (rc), max(a', a'') for rows writing new space (fresh, ret)");
    console.log('b = PartitionLog + FileDisk, group commit; main = share of the b window the main thread was busy');
    console.log('b/a, b/lim = best b over best a, lim; pair = median over rounds of b/lim within one round (limits and b adjacent in time)');
    console.log(`group = 1 KiB records per write (2*group/r_bat closed-loop producers in two waves, each appending r_bat-record batches); commitDepth ${depth}`);
    console.log(`best of ${o.rounds} alternating rounds each (a ${o.limitMs} ms, b ${o.appendMs} ms after ${o.warmupMs} ms warm-up)\n`);
    const overlap: string[] = [];
    for (const g of [64, 256]) {
      const one = await measureOverlap(dir, g * KiB, o.limitMs, 1);
      const two = await measureOverlap(dir, g * KiB, o.limitMs, 2);
      overlap.push(`${g} KiB ${f1(one.mbps)} -> ${f1(two.mbps)} MB/s (x${f2(two.mbps / one.mbps)})`);
    }
    console.log(`the disk with O_DSYNC writes overlapped (raw, rewriting a zero-filled file), 1 -> 2 in flight: ${overlap.join('; ')}\n`);
    console.log('fresh log: every segment is new space (default config: segmentRecycling off, no retention)');
    console.log(header());
    const ratios: string[] = [];
    const rows = [...o.groups.map((g) => ({ g, perBatch: 1 })), ...o.batchedRows];
    for (const { g, perBatch } of rows) printRow(await measureRow(dir, o, g, perBatch, null, o.rounds), ratios);
    await steadyRows(dir, o, ratios);
    const appends = o.groups.length > 2 ? 200_000 : 40_000;
    const cpu1 = measureCpuCeiling(256, appends);
    const cpu16 = measureCpuCeiling(16, appends / 8, 16);
    console.log(
      `\ne. core/log CPU ceiling (disk ops complete instantly, no I/O): 1-record batches ${cpu1.toFixed(0)} appends/s = ${f1((cpu1 * RECORD_BYTES) / MiB)} MB/s;` +
        ` 16-record batches ${cpu16.toFixed(0)} appends/s = ${f1((cpu16 * 16 * RECORD_BYTES) / MiB)} MB/s`,
    );
    const r = await measureRecovery(dir, o);
    console.log(`fill: ${r.logBytes / MiB} MiB through the log (group 256) at ${f1(r.fillMbps)} MB/s, ${r.segments} segments, logEndOffset ${r.logEndOffset}`);
    console.log(`c. reads (warm segments, 1 MiB fetches from offset 0): ${f1(r.readMbps)} MB/s over ${(r.readBytes / MiB).toFixed(0)} MiB`);
    console.log(`   segment allocations: ${r.allocFromSpare} from background spares, ${r.allocInline} inline`);
    console.log(
      `d. recovery of ${r.logBytes / MiB} MiB after an unclean stop: ${f1(r.recoveryMs)} ms, scanned ${(r.scannedBytes / MiB).toFixed(2)} MiB in ${r.readsIssued} reads`,
    );
    console.log(`\nratios b/lim (acceptance: >= 70%): ${ratios.join(' ')}; total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};
