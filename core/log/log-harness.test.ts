// Test support for the partition log (no tests of its own): a driver that carries out the log's
// disk effects on a SimDisk one at a time (as the disk contract orders them) and a tiny batch
// builder. The model-based property runner is in log-model.test.ts (run by log-property.test.ts,
// and by scripts/sweep-log.ts for thousands of sequences).
import assert from 'node:assert/strict';
import type { DiskOp, Effect, Stamp } from '../io.ts';
import { SimDisk, inProgressRun, type DiskFaultConfig } from '../../sim/disk.ts';
import { makeSimRng, type SimRng } from '../../sim/rng.ts';
import { encodeBatch } from '../records/batch.ts';
import { batchSizeAt } from '../records/batch-header.ts';
import { logConfig, type LogConfig } from './config.ts';
import { PartitionLog } from './partition-log.ts';
import type { AppendResult, LogEvent, ReadResult } from './log-types.ts';

export const DIR = 'topic-0';

export const smallConfig = (over: Partial<LogConfig> = {}): LogConfig =>
  logConfig({ dir: DIR, topic: 'topic', partition: 0, segmentBytes: 4096, indexIntervalBytes: 256, tailCacheBytes: 1024, ...over });

/** A batch of `count` records (offsets 0..count-1 before stamping), keys k<key+i>, timestamp `ts`. */
export const makeBatch = (count: number, ts: number, tag: number, valueBytes = 8, keyBase = -1): Uint8Array =>
  encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    baseTimestamp: ts,
    records: Array.from({ length: count }, (_, i) => ({
      offsetDelta: i,
      timestampDelta: 0,
      key: new TextEncoder().encode(keyBase >= 0 ? `k${keyBase + i}` : `t${tag}-${i}`),
      value: new Uint8Array(valueBytes).fill((tag + i) & 0xff),
    })),
  });

const keyEncoder = new TextEncoder();
/** One batch of records [key, value | null (a tombstone), timestamp], offsets 0.. before stamping. */
export const keyedBatch = (records: readonly (readonly [string, string | null, number])[]): Uint8Array =>
  encodeBatch({
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    baseTimestamp: records[0][2],
    records: records.map(([k, v, ts], i) => ({ offsetDelta: i, timestampDelta: ts - records[0][2], key: keyEncoder.encode(k), value: v === null ? null : keyEncoder.encode(v) })),
  });

/**
 * The batches in a read's chunks, in order, as views (no copies). `assertWhole`: assert that each
 * is a whole batch inside its chunk (the model checks that reads return whole batches).
 */
export const batchesIn = (chunks: readonly Uint8Array[], assertWhole = false): Uint8Array[] => {
  const out: Uint8Array[] = [];
  for (const c of chunks) {
    for (let off = 0; off < c.length; ) {
      const size = batchSizeAt(c, off);
      if (assertWhole) assert.ok(size >= 61 && off + size <= c.length, 'reads return whole batches');
      out.push(c.subarray(off, off + size));
      off += size;
    }
  }
  return out;
};

export class LogDriver {
  log!: PartitionLog;
  pending: { id: number; op: Effect & { tag: 'Disk' } }[] = [];
  events: LogEvent[] = [];
  now = 0;
  wall = 1_000_000;
  opsRun = 0;
  private nextId = 1;

  constructor(
    readonly disk: SimDisk,
    readonly config: LogConfig,
  ) {}

  stamp(): Stamp {
    return { now: this.now, wall: this.wall };
  }

  push(effects: readonly Effect[]): void {
    for (const e of effects) {
      if (e.tag !== 'Disk') throw new Error(`log emitted a non-disk effect ${e.tag}`);
      this.pending.push({ id: e.id, op: e });
    }
    this.events.push(...this.log.takeEvents());
  }

  /** Constructs a fresh log (after a crash the old object is gone with memory) and starts it. */
  boot(): void {
    this.pending = [];
    this.log = new PartitionLog(this.config, { nextDiskOpId: () => this.nextId++ });
    this.push(this.log.start(this.stamp()));
  }

  /** Runs the oldest pending disk op and feeds its completion back. */
  stepOne(): boolean {
    const p = this.pending.shift();
    if (p === undefined) return false;
    this.opsRun++;
    this.now += 1;
    const r = this.disk.execute(p.op.op);
    const base = { now: this.now, wall: this.wall, id: p.id, op: p.op.op.kind };
    this.push(
      r.ok ? this.log.onDisk({ tag: 'DiskDone', ...base, result: r.result }) : this.log.onDisk({ tag: 'DiskFailed', ...base, error: r.error }),
    );
    return true;
  }

  drain(limit = 1_000_000): void {
    for (let i = 0; i < limit && this.stepOne(); i++);
    if (this.pending.length > 0) throw new Error('drain limit reached');
  }

  /** Boots again (and drains) up to `tries` times while the log is not ready (after injected faults). */
  restartUntilReady(tries = 20): void {
    for (let i = 0; i < tries && this.log.state !== 'ready'; i++) {
      this.boot();
      this.drain();
    }
  }

  /** Appends `batch` at leader epoch `epoch` and drains the disk; returns the append's result. */
  appendDrained(batch: Uint8Array, epoch = 0): AppendResult {
    const r = this.log.append(batch, epoch, this.stamp());
    this.push(r.effects);
    this.drain();
    return r;
  }

  /** A retention pass with the high watermark at the log end; drains the disk. */
  retain(): void {
    this.log.setHighWatermark(this.log.logEndOffset);
    this.push(this.log.applyRetention(this.stamp()));
    this.drain();
  }

  take(kind: LogEvent['kind']): LogEvent[] {
    const hit = this.events.filter((e) => e.kind === kind);
    this.events = this.events.filter((e) => e.kind !== kind);
    return hit;
  }

  /** Reads synchronously (drains the disk); returns the result. */
  read(fetchOffset: number, maxBytes: number, upper = Infinity): ReadResult {
    const token = this.nextId++ + 1e9;
    this.push(this.log.read(fetchOffset, maxBytes, upper, token));
    this.drain();
    const hit = this.events.find((e) => e.kind === 'read' && e.token === token);
    if (hit === undefined || hit.kind !== 'read') throw new Error('read never answered');
    this.events = this.events.filter((e) => e !== hit);
    return hit.result;
  }

  /** Power loss: the durable writes that may have been in progress together land or not (DISK-1). */
  crash(): void {
    this.disk.crash(inProgressRun(this.pending.map((p) => p.op.op)));
    this.boot();
  }
}

export const newDriver = (seed: number | string, config = smallConfig(), faults: DiskFaultConfig = {}): { d: LogDriver; rng: SimRng } => {
  const rng = makeSimRng(seed);
  const d = new LogDriver(new SimDisk(rng.fork('disk'), faults), config);
  d.boot();
  d.drain();
  return { d, rng };
};

/** Records every disk op `d` runs from now on (in execution order). */
export const recordOps = (d: LogDriver): DiskOp[] => {
  const ops: DiskOp[] = [];
  const exec = d.disk.execute.bind(d.disk);
  d.disk.execute = (op) => {
    ops.push(op);
    return exec(op);
  };
  return ops;
};

/**
 * IDX-1: in `ops`, index files get their contents only by a rename from a file synced before it
 * (never a write under the final name), and at least one such rename happened.
 */
export const assertIndexesReplacedAtomically = (ops: readonly DiskOp[]): void => {
  const isIndex = (f: string): boolean => /\.(index|timeindex)$/.test(f);
  const inPlace = ops.filter((o) => o.kind === 'write' && isIndex(o.file));
  assert.deepEqual(inPlace, [], 'no index file written in place');
  const renames = ops.flatMap((o, i) => (o.kind === 'rename' && isIndex(o.to) ? [{ o, i }] : []));
  assert.ok(renames.length > 0, 'index files renamed into place');
  for (const { o, i } of renames) {
    if (o.kind !== 'rename') continue;
    assert.ok(ops.slice(0, i).some((p) => p.kind === 'sync' && p.file === o.from), `${o.from} synced before its rename`);
  }
};
