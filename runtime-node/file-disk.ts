// FileDisk: the runtime's interpreter of `Disk` effects (core/io.ts) over real files under one
// node's data directory, with node:fs promises (never a sync fs call on the event loop).
//
// Owns: the data directory's open file handles (a bounded cache) and the FIFO queue of one
// node's disk operations.
//
// Invariants:
//  - FDISK-1 (order): operations run one at a time, in submission order (except FDISK-10), and
//    their completions are delivered in submission order, always. A `sync` therefore covers
//    every earlier `write` to its file, which is what IO-1 relies on.
//  - FDISK-10 (overlapped durable writes): a durable write (`write` with `sync`, run as one
//    pwritev on the file's O_DSYNC handle, or write + fdatasync with fusion off) may start while
//    up to `maxOverlap` - 1 earlier durable writes to the same file still run, if its bytes are
//    disjoint from theirs; any other op waits for everything before it. Two pwrites of one range
//    on two libuv threads land in whichever order the threads run: back to back, the earlier one
//    landed last in ~3% of pairs here, so an intersecting write waits (core/io.ts). Each write
//    of a run has its own open file description (handleKey): a writeback error is reported once
//    per description, and must reach the write whose pages it hit. A write that finishes before
//    an earlier one waits for it to be handed back. The kernel overlaps one write's copy with
//    another's flush: a raw loop of 256 KiB O_DSYNC writes here ran ~1.4x faster with two in
//    flight than with one.
//  - FDISK-2 (confinement): every path is relative, '/'-separated, free of '..', empty segments
//    and NUL; anything else fails with EINVAL before touching the file system.
//  - FDISK-3 (durability): `sync` is fdatasync of the file's handle; `syncDir` opens the
//    directory and fsyncs it. `DiskDone` of either is delivered only after the call returned.
//  - FDISK-4 (preallocation is real while writes are small): `allocate` writes zeroes in 1 MiB
//    chunks (Node has no fallocate; for small appends under fdatasync a zero-filled file is much
//    faster than a sparse or growing one: 16 KiB writes 6.2k/s vs 1.4-4.5k/s here). Once the
//    recent average write is >= `sparseAboveBytes` (default 48 KiB), an allocate that no ready
//    spare serves only extends the file sparsely (ftruncate: it still reads as zeroes) and no
//    spare is prepared: zero-filling writes every byte twice, and at those sizes the block
//    allocation that fdatasync then commits costs less than the second copy (steady state with a
//    rate-matched zero-fill, 256 KiB writes: 286 MB/s zero-filled vs 537 MB/s sparse; log bench
//    at 64 KiB: 2218-2607 vs 2644-2732 commits/s; at 16 KiB zero-filled stays clearly ahead).
//  - FDISK-7 (preallocation off the hot path): after an `allocate` of >= 1 MiB, a spare file of
//    that size is zero-filled and fdatasynced in the background (in `.cairn-spare/`, which paths
//    may not name and the root listing hides). The next `allocate` of an EMPTY file to that size
//    renames the spare over it and fsyncs the parent directory before completing, so the file's
//    name points at the zeroed inode durably (a later `sync` of it then covers its writes, as the
//    contract promises). Spares are only ever used by the FileDisk that made them: a spare left
//    by a crash may be partial and is deleted, never used. The zero-fill is paced (a flush per
//    4 MiB, then a short pause) so it does not starve the foreground's fdatasyncs, and while
//    the foreground writes it keeps to 1.5x the foreground's byte rate (bursts of zero-fill
//    slowed concurrent write+fdatasync ~3x here; spread at the data rate they cost ~nothing for
//    16 KiB writes); an allocate that arrives while it runs waits for it, unpaced, instead of
//    zeroing a second file inline.
//  - FDISK-8 (write+sync in one call): a `write` whose successor in the queue is a `sync` of the
//    same file, when that file has no other modification since its last completed sync, is
//    carried out as a durable write: one pwrite on an O_DSYNC handle (the kernel syncs the
//    written range and the metadata needed to read it back before returning, as fdatasync
//    would); both ops then complete, in order. The sync covers exactly what fdatasync would
//    have: the only unsynced change to the file is that write. A failure fails both ops (the sync must never succeed
//    after the write's durability failed). This saves the main-thread hop between the write's
//    completion and the sync's start (with group commit the main thread is busy appending then).
//    To let the caller queue the sync, a write that arrives at an idle queue starts on the next
//    enqueue or at the end of the current microtask, whichever comes first.
//  - FDISK-9 (gathered writes): a write whose data is a list of chunks is one pwritev (up to
//    IOV_MAX chunks per call, looping on short writes), on the O_DSYNC handle when fused: the
//    kernel copies straight from the caller's buffers. A copy into one array in JS allocates and
//    touches every byte on the main thread while the other core runs the write; measured here,
//    that concurrent memory traffic slows the write itself (see proofs-notes/log.md).
//  - FDISK-5 (bounded): at most `maxOpenFiles` handles stay open (least recently used closed
//    first); the queue holds at most `maxQueued` operations (beyond it: our caller's bug).
//  - FDISK-6 (shutdown): `close()` waits for queued operations, then closes every handle;
//    operations submitted after it fail with EIO (after those queued before them, FDISK-1).
//  - FDISK-11 (directories): the contract has no mkdir; a write or rename into a missing
//    directory creates it and fsyncs the parent of every directory it created before the op
//    completes (a directory is durable once created, as SimDisk assumes; syncDir covers only
//    the entries inside a directory). A failed op creates nothing (a rename creates the target
//    directory only once the source is known to exist). `stat` is of files: a directory, or a
//    path under a file, does not exist (-1), as in SimDisk.
//
// Faults it must survive: any fs call may fail (mapped to EIO/ENOSPC/ENOENT/EINVAL, never thrown
// through); short writes (looped until complete); a missing parent directory on write.
// Not handled here: what an fsync failure leaves in the page cache (the core decides; a node
// should treat a failed sync as fatal for that file, as PostgreSQL does after fsyncgate).

import { constants, type Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isWriteData, writeLength, type DirEntry, type DiskError, type DiskOp, type DiskOpId, type DiskResult, type Input, type Stamp, type WriteData } from '../core/io.ts';

export type DiskOutcome = { readonly ok: true; readonly result: DiskResult } | { readonly ok: false; readonly error: DiskError };

/** The input a machine receives when a disk op finishes (DiskDone or DiskFailed). */
export type DiskInput = Extract<Input, { tag: 'DiskDone' } | { tag: 'DiskFailed' }>;

export interface FileDiskOptions {
  /** Open handles kept cached (FDISK-5). */
  readonly maxOpenFiles?: number;
  /** Operations queued at once before `submit` throws (FDISK-5). */
  readonly maxQueued?: number;
  /** Clock for the Stamp on completions; defaults to performance.now() / Date.now(). */
  readonly stamp?: () => Stamp;
  /** Fuse a write and the sync after it into one O_DSYNC write (FDISK-8); default true. */
  readonly fuseSync?: boolean;
  /** FDISK-10: durable writes to one file that may run at once (default 4; 1: one op at a time). */
  readonly maxOverlap?: number;
  /** Prepare preallocated spares in the background (FDISK-7); default true. */
  readonly spares?: boolean;
  /** FDISK-4: average write size from which allocate extends sparsely (default 48 KiB). */
  readonly sparseAboveBytes?: number;
  /** Spare pacing: fdatasync after this many zero bytes (default 4 MiB), then pause. */
  readonly spareSyncBytes?: number;
  /** Spare pacing: the pause after each flush, ms (default 2). */
  readonly sparePauseMs?: number;
  /** Spare pacing: stay within this multiple of the foreground's write rate (default 1.5; 0: off). */
  readonly spareRate?: number;
}

const zeroChunkBytes = 1 << 20;
const zeroChunk = new Uint8Array(zeroChunkBytes); // read-only by convention: only ever a write source
const maxIoBytes = 0x7fff_f000; // Linux caps one read/write at this many bytes
const openRw = constants.O_RDWR;
const openRwCreate = constants.O_RDWR | constants.O_CREAT;
const openDsyncCreate = constants.O_RDWR | constants.O_CREAT | constants.O_DSYNC;
/** FDISK-8: the cache key of a file's O_DSYNC handle (NUL never occurs in a checked path). */
const dsyncKey = (rel: string): string => rel + '\0';
/**
 * FDISK-10: the cache key of the handle a durable write uses. Slot 0 is the file's plain handle
 * (or its O_DSYNC one, `dsync`); a write overlapping others gets a slot of its own (1..), a
 * separate open() of the file. Linux reports a writeback error once per open file description:
 * two durable writes sharing one could see the error of the first reported to the second only,
 * and the first complete as durable.
 */
const handleKey = (rel: string, dsync: boolean, slot: number): string =>
  slot === 0 ? (dsync ? dsyncKey(rel) : rel) : `${rel}\0${dsync ? 'd' : 'p'}${slot}`;
/** True when cache key `key` names `rel` itself (either handle) or a path under it. */
const keyUnder = (key: string, rel: string): boolean => key === rel || key.startsWith(rel + '\0') || key.startsWith(rel + '/');
/** FDISK-7: the spare pool's directory under the root; machine paths may not name it. */
const SPARE_DIR = '.cairn-spare';
const minSpareBytes = 1 << 20;

export const realStamp = (): Stamp => ({ now: performance.now(), wall: Date.now() });

/** Maps a Node fs error to the contract's DiskError (anything unknown is EIO). */
const toDiskError = (err: unknown): DiskError => {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR': // a component of the path is a file: the file does not exist (as SimDisk)
      return 'ENOENT';
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return 'ENOSPC';
    case 'EINVAL':
    case 'EISDIR':
    case 'ENAMETOOLONG':
    case 'ENOTEMPTY':
    case 'EEXIST':
    case 'ELOOP':
      return 'EINVAL';
    default:
      return 'EIO';
  }
};

/** FDISK-2: a safe relative path, or null. `allowRoot` admits '' / '.' (the data directory). */
const checkPath = (path: string, allowRoot: boolean): string | null => {
  if (typeof path !== 'string') return null;
  if (path === '' || path === '.') return allowRoot ? '' : null;
  if (path.length > 4096 || path.includes('\0') || path.startsWith('/')) return null;
  const parts = path.split('/');
  for (const part of parts) {
    if (part === '' || part === '..' || part === '.') return null;
  }
  if (parts[0] === SPARE_DIR) return null;
  return path;
};

const noResult: DiskResult = Object.freeze({});
const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/** FDISK-10: the end of a write's byte range, or -1 if its offset or data is malformed (an op
 * from a machine is untrusted: nothing here may throw on it, DISK-3). */
const writeEnd = (op: Extract<DiskOp, { kind: 'write' }>): number => (isCount(op.offset) && isWriteData(op.data) ? op.offset + writeLength(op.data) : -1);

class DiskFault extends Error {
  constructor(readonly error: DiskError) {
    super(error);
  }
}

interface Pending {
  readonly op: DiskOp;
  readonly finish: (outcome: DiskOutcome) => void;
  /** Set when its fs call returned; handed back once every earlier op's was (FDISK-1). */
  outcome?: DiskOutcome;
  /** FDISK-10: the handle slot of a durable write (0 unless it overlaps others; handleKey). */
  slot: number;
}

export class FileDisk {
  readonly root: string;
  private readonly handles = new Map<string, FileHandle>(); // insertion order = LRU order
  private readonly queue: Pending[] = [];
  private queueHead = 0;
  /** Ops from queueHead on that have started (a fused pair counts two); FDISK-10 lets several
   * durable writes to one file run at once, everything else runs alone. */
  private started = 0;
  private readonly maxOverlap: number;
  /** settle's list of the ops it hands back, reused (no array per completion). settle never runs
   * inside itself: it is only called from a promise reaction, never from a callback it makes. */
  private readonly settled: Pending[] = [];
  /** FDISK-8: a write arrived at an idle queue; it starts on the next enqueue or microtask. */
  private startPending = false;
  /** Ops submitted after close() while earlier ones were queued: failed once those finish (FDISK-1). */
  private readonly closedRejects: (() => void)[] = [];
  /** FDISK-8: files modified (write/truncate/allocate/rename target) since their last sync. */
  private readonly unsynced = new Set<string>();
  private readonly fuseSync: boolean;
  private closed = false;
  private readonly drainWaiters: (() => void)[] = [];
  private readonly maxOpenFiles: number;
  private readonly maxQueued: number;
  /** The clock its completions are stamped with; a runner stamps its other inputs with it too. */
  readonly stamp: () => Stamp;
  private readonly spares: boolean;
  private readonly spareSyncBytes: number;
  private readonly sparePauseMs: number;
  private readonly spareRate: number;
  /** FDISK-7: a zero-filled, synced spare of `size` bytes at `path`, ready to rename. */
  private spare: { readonly path: string; readonly size: number } | null = null;
  /** FDISK-7: the spare being prepared (`size` bytes), done when `done` resolves. */
  private spareJob: { readonly size: number; readonly done: Promise<void> } | null = null;
  private spareSeq = 0;
  /** An allocate waits for the spare in progress: finish it without pauses. */
  private spareUrgent = false;
  /** Bytes written by write ops, and when the last one started (FDISK-7 rate matching). */
  private foregroundBytes = 0;
  private foregroundAt = -Infinity;
  /** Allocations served by a spare rename / by writing zeroes inline (metrics, tests). */
  readonly allocations = { fromSpare: 0, inline: 0 };
  /** Write+sync pairs carried out as one O_DSYNC write (FDISK-8; metrics, tests). */
  fusedSyncs = 0;
  /** Allocations done as a sparse extension (FDISK-4, large writes). */
  sparseAllocations = 0;
  /** FDISK-4: moving average of write sizes (each write weighs 1/16). */
  private writeBytesAvg = 0;
  private readonly sparseAboveBytes: number;

  constructor(root: string, options: FileDiskOptions = {}) {
    if (typeof root !== 'string' || root === '') throw new Error('FileDisk: root must be a directory path');
    this.root = root;
    this.maxOpenFiles = options.maxOpenFiles ?? 256;
    this.maxQueued = options.maxQueued ?? 1 << 16;
    this.stamp = options.stamp ?? realStamp;
    this.spares = options.spares ?? true;
    this.fuseSync = options.fuseSync ?? true;
    this.maxOverlap = options.maxOverlap ?? 4;
    this.sparseAboveBytes = options.sparseAboveBytes ?? 48 << 10;
    this.spareSyncBytes = Math.max(1, Math.round((options.spareSyncBytes ?? 4 << 20) / zeroChunkBytes)) * zeroChunkBytes;
    this.sparePauseMs = options.sparePauseMs ?? 2;
    this.spareRate = options.spareRate ?? 1.5;
    if (!(this.maxOpenFiles >= 1)) throw new Error('FileDisk: maxOpenFiles must be >= 1');
    if (!(this.maxQueued >= 1)) throw new Error('FileDisk: maxQueued must be >= 1');
    if (!(this.maxOverlap >= 1)) throw new Error('FileDisk: maxOverlap must be >= 1');
  }

  /** Handles currently open (for tests and metrics). */
  get openHandles(): number {
    return this.handles.size;
  }

  /** Resolves once no spare is being prepared (tests; FDISK-7). */
  async sparesSettled(): Promise<void> {
    await this.spareJob?.done;
  }

  /** Operations queued or running. */
  get queued(): number {
    return this.queue.length - this.queueHead;
  }

  /** Runs `op` after every earlier op (FDISK-1); never rejects. */
  execute(op: DiskOp): Promise<DiskOutcome> {
    return new Promise((resolve) => this.enqueue(op, resolve));
  }

  /** Runs `op` after every earlier op and hands `done` the stamped DiskDone/DiskFailed input. */
  submit(id: DiskOpId, op: DiskOp, done: (input: DiskInput) => void): void {
    this.enqueue(op, (outcome) => done(toDiskInput(id, op, outcome, this.stamp())));
  }

  /** FDISK-6: waits for queued ops, then closes every cached handle. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.queued > 0) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    await this.spareJob?.done;
    this.spare = null;
    if (this.spares) await rm(join(this.root, SPARE_DIR), { recursive: true, force: true }).catch(() => {});
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.allSettled(handles.map((h) => h.close()));
  }

  private enqueue(op: DiskOp, finish: (outcome: DiskOutcome) => void): void {
    if (this.closed) {
      // FDISK-1 still: an op submitted after close fails, but only after every earlier op finished.
      const fail = (): void => finish({ ok: false, error: 'EIO' });
      if (this.queued > 0) this.closedRejects.push(fail);
      else queueMicrotask(fail);
      return;
    }
    if (this.queued >= this.maxQueued) throw new Error(`FileDisk: more than ${this.maxQueued} ops queued`);
    this.queue.push({ op, finish, outcome: undefined, slot: 0 }); // outcome, slot in the literal: set later without growing the object
    if (this.startPending) {
      this.startPending = false; // the idle write's successor is here: start it (maybe fused)
      this.pump();
    } else if (this.queued === 1 && this.fuseSync && op.kind === 'write' && op.sync !== true) {
      this.startPending = true; // FDISK-8: nothing else may start before this write
      queueMicrotask(this.startPendingWrite);
    } else this.pump();
  }

  /** FDISK-8: the end of the microtask in which a write arrived at an idle queue: start it,
   * unless an enqueue already did. Bound once (no closure per write). */
  private readonly startPendingWrite = (): void => {
    if (!this.startPending) return;
    this.startPending = false;
    this.pump();
  };

  /** Starts every queued op that may start now (FDISK-1, FDISK-10). */
  private pump(): void {
    if (this.startPending) return;
    for (;;) {
      const at = this.queueHead + this.started;
      const p = this.queue[at];
      if (p === undefined || (this.started > 0 && !this.mayOverlap(p.op))) return;
      this.start(at);
    }
  }

  /** FDISK-10: `op` is a durable write to the file every started op durably writes, with room,
   * and its bytes are disjoint from every started write's: the kernel applies concurrent writes
   * of one range in no set order, so an intersecting write waits (its bytes must end up as the
   * later op left them). File and kind: checking the head suffices (each op started after it
   * passed this check against it, and a fused pair, its head a plain write, admits nothing). */
  private mayOverlap(op: DiskOp): boolean {
    if (op.kind !== 'write' || op.sync !== true || this.started >= this.maxOverlap) return false;
    const head = this.queue[this.queueHead]!.op;
    if (head.kind !== 'write' || head.sync !== true || head.file !== op.file) return false;
    const to = writeEnd(op);
    if (to < 0) return false; // malformed: it runs alone and fails with EINVAL
    for (let i = 0; i < this.started; i++) {
      const w = this.queue[this.queueHead + i]!.op as Extract<DiskOp, { kind: 'write' }>;
      const end = writeEnd(w);
      if (end < 0 || (op.offset < end && w.offset < to)) return false;
    }
    return true;
  }

  /** Starts the op at `at`. The fs call of a write/sync on a cached handle is issued
   * synchronously, so I/O overlaps whatever the caller does next. */
  private start(at: number): void {
    const head = this.queue[at]!;
    const next = this.queue[at + 1];
    // FDISK-8: one O_DSYNC write completes `write` and then `sync`; a failure fails both.
    const sync = this.started === 0 && next !== undefined && this.fusable(head.op, next.op) ? next : null;
    head.slot = this.started === 0 ? 0 : this.freeSlot();
    this.started += sync === null ? 1 : 2;
    let running: Promise<DiskResult>;
    try {
      if (sync === null) running = this.run(head.op, head.slot);
      else {
        // The file's only unsynced change will be this write: a durable write covers the sync.
        const op = head.op as Extract<DiskOp, { kind: 'write' }>;
        running = this.durableWrite(this.path(op.file), op.offset, op.data);
      }
    } catch (err) {
      running = Promise.reject(err);
    }
    running.then(
      (result) => {
        if (sync !== null) this.fusedSyncs++;
        this.settle(head, sync, { ok: true, result });
      },
      (err: unknown) => this.settle(head, sync, { ok: false, error: err instanceof DiskFault ? err.error : toDiskError(err) }),
    );
  }

  /** FDISK-10: the lowest handle slot no started op holds (at most maxOverlap are started). */
  private freeSlot(): number {
    for (let slot = 0; ; slot++) {
      let taken = false;
      for (let i = 0; i < this.started && !taken; i++) taken = this.queue[this.queueHead + i]!.slot === slot;
      if (!taken) return slot;
    }
  }

  /** FDISK-8: `write f` then `sync f`, and f has no other unsynced change. */
  private fusable(op: DiskOp, next: DiskOp): boolean {
    return this.fuseSync && op.kind === 'write' && op.sync !== true && next.kind === 'sync' && next.file === op.file && !this.unsynced.has(op.file);
  }

  /**
   * FDISK-1: records `outcome` for `op` (and `sync`, its fused successor, FDISK-8); pops every
   * finished op at the head, starts what may start next (I/O first), then hands back each
   * outcome in submission order.
   */
  private settle(op: Pending, sync: Pending | null, outcome: DiskOutcome): void {
    if (op.outcome !== undefined) throw new Error('FDISK-1: an op finished twice');
    op.outcome = outcome;
    if (sync !== null) sync.outcome = outcome;
    const done = this.settled;
    done.length = 0; // a throwing callback last time may have left entries
    for (let p = this.queue[this.queueHead]; this.started > 0 && p !== undefined && p.outcome !== undefined; p = this.queue[this.queueHead]) {
      done.push(p);
      this.queueHead++;
      this.started--;
    }
    if (done.length === 0) return; // an overlapped write finished before an earlier one
    if (this.queueHead < this.queue.length) {
      if (this.started === 0 && this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue.splice(0, this.queueHead);
        this.queueHead = 0;
      }
      this.pump();
    } else {
      this.queue.length = 0;
      this.queueHead = 0;
      if (this.drainWaiters.length > 0) for (const wake of this.drainWaiters.splice(0)) wake(); // no array per drain
    }
    for (const p of done) p.finish(p.outcome!); // a throwing callback is the caller's bug: let it surface
    done.length = 0;
    if (this.queued === 0 && this.closedRejects.length > 0) for (const fail of this.closedRejects.splice(0)) fail();
  }

  private path(rel: string, allowRoot = false): string {
    const ok = checkPath(rel, allowRoot);
    if (ok === null) throw new DiskFault('EINVAL');
    return ok;
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, rel);
  }

  private run(op: DiskOp, slot: number): Promise<DiskResult> {
    switch (op.kind) {
      case 'write':
        return op.sync === true ? this.durableWrite(this.path(op.file), op.offset, op.data, slot) : this.write(this.path(op.file), op.offset, op.data);
      case 'sync':
        return this.sync(this.path(op.file));
      case 'syncDir':
        return this.syncDir(this.path(op.dir, true));
      case 'read':
        return this.read(this.path(op.file), op.offset, op.length);
      case 'truncate':
        return this.truncate(this.path(op.file), op.size);
      case 'allocate':
        return this.allocate(this.path(op.file), op.size);
      case 'rename':
        return this.rename(this.path(op.from), this.path(op.to));
      case 'remove':
        return this.remove(this.path(op.file));
      case 'list':
        return this.list(this.path(op.dir, true));
      case 'stat':
        return this.stat(this.path(op.file));
      default: {
        const unknown: never = op; // malformed op from a buggy machine: a typed error, not a throw
        void unknown;
        throw new DiskFault('EINVAL');
      }
    }
  }

  /** The cached handle of `rel`, marked most recently used, or undefined. */
  private cached(rel: string): FileHandle | undefined {
    const fh = this.handles.get(rel);
    if (fh !== undefined) {
      this.handles.delete(rel); // move to the most-recently-used end
      this.handles.set(rel, fh);
    }
    return fh;
  }

  /**
   * A cached or newly opened handle; `create` makes the file (and its parents) if missing;
   * `dsync` asks for the file's O_DSYNC handle (FDISK-8, always creating); `slot` > 0 for a
   * durable write overlapping others (FDISK-10, handleKey).
   */
  private async handle(rel: string, create: boolean, dsync = false, slot = 0): Promise<FileHandle> {
    const key = handleKey(rel, dsync, slot);
    const cached = this.cached(key);
    if (cached !== undefined) return cached;
    const path = this.abs(rel);
    const flags = dsync ? openDsyncCreate : openRwCreate;
    let fh: FileHandle;
    if (!create && !dsync) {
      fh = await open(path, openRw);
    } else {
      try {
        fh = await open(path, flags, 0o644);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOTDIR') throw new DiskFault('EINVAL'); // creating under a file (as SimDisk)
        if (code !== 'ENOENT') throw err;
        await mkdirDurable(dirname(path));
        fh = await open(path, flags, 0o644);
      }
    }
    // No other op can have opened this key meanwhile: ops run one at a time, and overlapped
    // durable writes each have a slot of their own (FDISK-10, handleKey).
    this.handles.set(key, fh);
    if (this.handles.size > this.maxOpenFiles) await this.evictOldest();
    return fh;
  }

  private async evictOldest(): Promise<void> {
    const oldest = this.handles.keys().next();
    if (oldest.done === true) return;
    const fh = this.handles.get(oldest.value)!;
    this.handles.delete(oldest.value);
    await fh.close();
  }

  /** Closes and forgets cached handles of `rel` and everything under it. */
  private async forget(rel: string): Promise<void> {
    const gone = [...this.handles].filter(([key]) => keyUnder(key, rel));
    for (const [key] of gone) this.handles.delete(key);
    await Promise.allSettled(gone.map(([, fh]) => fh.close()));
  }

  // write, durableWrite and sync: no await before the fs call when the handle is cached (see start).
  private async write(rel: string, offset: number, data: WriteData): Promise<DiskResult> {
    if (!isCount(offset) || !isWriteData(data)) throw new DiskFault('EINVAL');
    this.unsynced.add(rel);
    const bytes = writeLength(data);
    this.noteWrite(bytes);
    await writeFully(this.cached(rel) ?? (await this.handle(rel, true)), data, offset, bytes);
    return noResult;
  }

  /**
   * A durable write (io contract: durable when it completes, covering its own bytes): on the
   * O_DSYNC handle (FDISK-8's), or write + fdatasync without fusion. It leaves the file's other
   * unsynced changes, if any, unsynced; a failure may leave its own pages dirty. Also carries
   * out a fused write+sync (FDISK-8), whose file has no other unsynced change.
   */
  private async durableWrite(rel: string, offset: number, data: WriteData, slot = 0): Promise<DiskResult> {
    if (!isCount(offset) || !isWriteData(data)) throw new DiskFault('EINVAL');
    const bytes = writeLength(data);
    this.noteWrite(bytes);
    try {
      if (this.fuseSync) {
        await writeFully(this.cached(handleKey(rel, true, slot)) ?? (await this.handle(rel, true, true, slot)), data, offset, bytes);
      } else {
        const fh = this.cached(handleKey(rel, false, slot)) ?? (await this.handle(rel, true, false, slot));
        await writeFully(fh, data, offset, bytes);
        await fh.datasync();
      }
    } catch (err) {
      this.unsynced.add(rel);
      throw err;
    }
    return noResult;
  }

  /** Write-size average (FDISK-4) and foreground rate (FDISK-7). */
  private noteWrite(bytes: number): void {
    this.writeBytesAvg += (bytes - this.writeBytesAvg) / 16;
    this.foregroundBytes += bytes;
    this.foregroundAt = performance.now();
  }

  /** FDISK-7: true while the spare at `doneBytes` is ahead of `spareRate` x the foreground's bytes since
   * `fromBytes` (+ one sync's worth) and the foreground wrote within the last 5 ms. */
  private spareAhead(doneBytes: number, fromBytes: number): boolean {
    if (this.spareRate <= 0 || this.spareUrgent || this.closed || performance.now() - this.foregroundAt > 5) return false;
    return doneBytes > (this.foregroundBytes - fromBytes) * this.spareRate + this.spareSyncBytes;
  }

  private async sync(rel: string): Promise<DiskResult> {
    const fh = this.cached(rel) ?? (await this.handle(rel, false));
    await fh.datasync();
    this.unsynced.delete(rel);
    return noResult;
  }

  private async syncDir(rel: string): Promise<DiskResult> {
    await fsyncDir(this.abs(rel));
    return {};
  }

  private async read(rel: string, offset: number, length: number): Promise<DiskResult> {
    if (!isCount(offset) || !isCount(length) || length > maxIoBytes) throw new DiskFault('EINVAL');
    const fh = await this.handle(rel, false);
    const data = new Uint8Array(length);
    let done = 0;
    for (let rounds = 0; done < length; rounds++) {
      if (rounds > length) throw new Error('FileDisk.read: no progress'); // bound: >= 1 byte per round
      const { bytesRead } = await fh.read(data, done, length - done, offset + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return { data: done === length ? data : data.subarray(0, done) };
  }

  private async truncate(rel: string, size: number): Promise<DiskResult> {
    if (!isCount(size)) throw new DiskFault('EINVAL');
    this.unsynced.add(rel);
    const fh = await this.handle(rel, false);
    await fh.truncate(size);
    return {};
  }

  private async allocate(rel: string, size: number): Promise<DiskResult> {
    if (!isCount(size)) throw new DiskFault('EINVAL');
    this.unsynced.add(rel);
    const fh = await this.handle(rel, true);
    const { size: current } = await fh.stat();
    if (this.writesLarge && current < size && this.spareFor(current, size) === null) {
      await fh.truncate(size); // FDISK-4: sparse; reads as zeroes
      this.sparseAllocations++;
      return {};
    }
    if (current === 0 && this.spare === null && this.spareJob !== null && this.spareJob.size === size) {
      // The spare is on its way: finish it unpaced rather than zero a second file inline.
      this.spareUrgent = true;
      await this.spareJob.done;
    }
    const spare = this.spareFor(current, size);
    if (spare !== null) {
      await this.useSpare(rel, spare.path);
      this.allocations.fromSpare++;
      this.prepareSpare(size);
      return {};
    }
    if (current < size) this.allocations.inline++;
    try {
      for (let at = current; at < size; ) {
        const chunk = Math.min(zeroChunkBytes, size - at);
        await writeFully(fh, chunk === zeroChunkBytes ? zeroChunk : zeroChunk.subarray(0, chunk), at, chunk);
        at += chunk;
      }
    } catch (err) {
      // A failed op changes nothing (DISK-3): give back what the zero-fill grew (ENOSPC midway).
      await fh.truncate(current).catch(() => {});
      throw err;
    }
    this.prepareSpare(size);
    return {};
  }

  /** FDISK-4: the recent average write is large enough that new space is extended sparsely. */
  private get writesLarge(): boolean {
    return this.writeBytesAvg >= this.sparseAboveBytes;
  }

  /** FDISK-7: the ready spare if it can serve an allocate to `size` of a file now `current` bytes
   * long (it must be empty), else null. */
  private spareFor(current: number, size: number): { readonly path: string; readonly size: number } | null {
    return current === 0 && this.spare !== null && this.spare.size === size ? this.spare : null;
  }

  /** FDISK-7: renames the ready spare over `rel` (an empty file) and makes that durable. */
  private async useSpare(rel: string, sparePath: string): Promise<void> {
    this.spare = null;
    const path = this.abs(rel);
    await this.forget(rel);
    await rename(sparePath, path);
    await fsyncDir(dirname(path));
  }

  /** FDISK-7: starts zero-filling a spare of `size` bytes unless one is ready or in progress. */
  private prepareSpare(size: number): void {
    if (this.writesLarge) return; // FDISK-4: large writes go sparse
    if (!this.spares || this.closed || size < minSpareBytes || this.spareJob !== null) return;
    if (this.spare !== null && this.spare.size === size) return;
    const seq = this.spareSeq++;
    this.spareUrgent = false;
    const dir = join(this.root, SPARE_DIR);
    const path = join(dir, `spare-${seq}`);
    const done = (async () => {
      try {
        if (seq === 0) await rm(dir, { recursive: true, force: true }); // a crashed run's partial spares
        await mkdir(dir, { recursive: true });
        const fh = await open(path, 'w');
        try {
          // Paced: a small flush at a time, then a pause, so the foreground's fdatasyncs never
          // queue behind tens of MiB of our writeback.
          const fromBytes = this.foregroundBytes;
          for (let at = 0; at < size && !this.closed; at += zeroChunkBytes) {
            // Bounded: at most 1 s of waiting per chunk, then on regardless.
            for (let waits = 0; waits < 1000 && this.spareAhead(at, fromBytes); waits++) await new Promise((r) => setTimeout(r, 1));
            const chunk = Math.min(zeroChunkBytes, size - at);
            await writeFully(fh, zeroChunk.subarray(0, chunk), at, chunk);
            if ((at + zeroChunkBytes) % this.spareSyncBytes === 0 && !this.spareUrgent) {
              await fh.datasync();
              await new Promise((r) => setTimeout(r, this.sparePauseMs));
            }
          }
          await fh.datasync();
        } finally {
          await fh.close();
        }
        if (!this.closed) {
          // Swap first: an allocate arriving while the old spare is being deleted must not take it.
          const old = this.spare;
          this.spare = { path, size };
          if (old !== null) await rm(old.path, { force: true });
        }
      } catch {
        // A spare is an optimisation: on any failure allocate falls back to writing zeroes inline,
        // and the partial file gives its space back (it failed most likely for want of space).
        if (this.spare?.path !== path) await rm(path, { force: true }).catch(() => {});
      } finally {
        this.spareJob = null;
      }
    })();
    this.spareJob = { size, done };
  }

  private async rename(from: string, to: string): Promise<DiskResult> {
    if (from === to) {
      await stat(this.abs(from));
      return {};
    }
    const absTo = this.abs(to);
    try {
      await rename(this.abs(from), absTo);
    } catch (err) {
      // Only a missing target directory is created (a failed op changes nothing, DISK-3).
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await stat(this.abs(from)); // ENOENT: the source is what is missing
      await mkdirDurable(dirname(absTo));
      await rename(this.abs(from), absTo);
    }
    // The old handle still names the same inode: keep it under its new name. The target's
    // unsynced state is now the source's; conservatively both count as unsynced (FDISK-8).
    for (const k of [...this.unsynced]) if (keyUnder(k, from)) this.unsynced.add(to + k.slice(from.length));
    this.unsynced.add(to);
    await this.forget(to);
    const moved = [...this.handles].filter(([k]) => keyUnder(k, from));
    for (const [key, fh] of moved) {
      this.handles.delete(key);
      this.handles.set(to + key.slice(from.length), fh);
    }
    return {};
  }

  private async remove(rel: string): Promise<DiskResult> {
    await unlink(this.abs(rel)); // files only, as SimDisk: a directory fails (EISDIR -> EINVAL)
    this.unsynced.delete(rel);
    await this.forget(rel);
    return {};
  }

  private async list(rel: string): Promise<DiskResult> {
    let dirents: Dirent[];
    try {
      dirents = await readdir(this.abs(rel), { withFileTypes: true });
    } catch (err) {
      if (toDiskError(err) === 'ENOENT') return { entries: [] };
      throw err;
    }
    const base = this.abs(rel);
    if (rel === '') dirents = dirents.filter((d) => d.name !== SPARE_DIR); // FDISK-7: hidden
    const entries = await Promise.all(
      dirents.map(async (d): Promise<DirEntry> => {
        if (d.isDirectory()) return { name: d.name, size: 0, dir: true };
        const s = await stat(join(base, d.name));
        return { name: d.name, size: s.isDirectory() ? 0 : s.size, dir: s.isDirectory() };
      }),
    );
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { entries };
  }

  private async stat(rel: string): Promise<DiskResult> {
    try {
      const s = await stat(this.abs(rel));
      return { size: s.isDirectory() ? -1 : s.size }; // the contract's stat is of files (as SimDisk)
    } catch (err) {
      if (toDiskError(err) === 'ENOENT') return { size: -1 };
      throw err;
    }
  }
}

/**
 * FDISK-11: creates `absDir` and any missing parents, and makes each new directory's entry
 * durable (fsync of its parent) before returning: the contract has no mkdir, a directory is
 * durable once created (as SimDisk), and a later syncDir only covers the entries inside it.
 */
const mkdirDurable = async (absDir: string): Promise<void> => {
  const first = await mkdir(absDir, { recursive: true });
  if (first === undefined) return; // it already existed
  for (let d = absDir; ; d = dirname(d)) {
    await fsyncDir(dirname(d));
    if (d === first || dirname(d) === d) return;
  }
};

/** FDISK-3: fsync of a directory (its entries' names, renames and removals durable). */
const fsyncDir = async (absDir: string): Promise<void> => {
  const fh = await open(absDir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
};

/** Linux's IOV_MAX: the most chunks one pwritev takes. */
const maxIovecs = 1024;

/**
 * Writes all of `data` at `offset` in one call (FDISK-9: one array is one pwrite; for a gathered
 * write the kernel copies the chunks, one pwritev, no concatenation in JS); loops on short
 * writes. `total` is writeLength(data), which every caller already has.
 */
const writeFully = async (fh: FileHandle, data: WriteData, offset: number, total: number): Promise<void> => {
  if (data instanceof Uint8Array) {
    // One array (core/log hands a lone append over as is): no iovec list to allocate.
    for (let done = 0, rounds = 0; done < total; rounds++) {
      if (rounds > total) throw new Error('FileDisk.write: no progress'); // bound: >= 1 byte per round
      const { bytesWritten } = await fh.write(data, done, Math.min(total - done, maxIoBytes), offset + done);
      if (bytesWritten <= 0) throw new DiskFault('EIO');
      done += bytesWritten;
    }
    return;
  }
  // Empty chunks are harmless in one call; only a list split across calls drops them, so that
  // no call is made of empty chunks alone. The common case allocates nothing but the call's result.
  let rest = data.length > maxIovecs ? data.filter((c) => c.length > 0) : data;
  let at = offset;
  for (let rounds = 0; at - offset < total; rounds++) {
    if (rounds > total) throw new Error('FileDisk.write: no progress'); // bound: >= 1 byte per round
    const call = rest.length > maxIovecs ? rest.slice(0, maxIovecs) : rest;
    const { bytesWritten } = await fh.writev(call as Uint8Array[], at);
    if (bytesWritten <= 0) throw new DiskFault('EIO');
    at += bytesWritten;
    if (at - offset >= total) return;
    let left = bytesWritten;
    let i = 0;
    while (i < rest.length && left >= rest[i]!.length) left -= rest[i++]!.length;
    rest = i < rest.length && left > 0 ? [rest[i]!.subarray(left), ...rest.slice(i + 1)] : rest.slice(i);
  }
};

/** Builds the machine input for a finished op. */
const toDiskInput = (id: DiskOpId, op: DiskOp, outcome: DiskOutcome, stamp: Stamp): DiskInput =>
  outcome.ok
    ? { tag: 'DiskDone', id, op: op.kind, result: outcome.result, now: stamp.now, wall: stamp.wall }
    : { tag: 'DiskFailed', id, op: op.kind, error: outcome.error, now: stamp.now, wall: stamp.wall };
