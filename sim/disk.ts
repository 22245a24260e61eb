// One node's simulated disk, honouring the disk contract in core/io.ts exactly, and as hostile as
// that contract allows.
//
// Model. Files are inodes; two namespaces map paths to inodes: the volatile one (what reads and
// lists see now) and the durable one (what survives a crash). An inode holds its current bytes
// plus an undo log of every change since its last completed sync; its durable contents are the
// current bytes with the undo log rolled back. So a sync is O(1) (drop the undo log) and a crash
// rolls back. Namespace changes (create, rename, remove) wait in a journal until a syncDir of the
// affected directory moves them into the durable namespace; a crash keeps a random prefix of the
// journal (a journaling file system commits metadata in order; a rename is atomic).
// Directories themselves are durable once created (there is no mkdir/rmdir op in the contract).
//
// Invariants:
//  DISK-1  After crash(), every file's contents equal its contents at its last completed sync,
//          except that each change made since then may have landed, independently of the others
//          and in the order made: a write whole, torn (a prefix of it, or a prefix plus garbage)
//          or as a scattering of its 512-byte sectors, a resize whole. So a later unsynced write
//          may survive an earlier one. Each durable write the driver names as still in progress
//          (a run of them may overlap, see core/io.ts) lands whole, torn or not at all,
//          independently of the others: a later one may survive an earlier one.
//  DISK-5  A durable write (`write` with `sync`) makes its own bytes durable, and only them (as
//          O_DSYNC does): the file's other unsynced changes stay unsynced, and a crash lands them
//          or not as DISK-1 says, the durable write always (in order, over earlier ones). Until
//          the seventh session it synced the whole file, which the contract allows but which
//          would hide a machine relying on it.
//  DISK-2  After crash(), each name resolves as of the last syncDir of its directory, plus some
//          prefix (in issue order) of later creates/renames/removes; a rename is never split
//          (unless a syncDir of just one of its two directories already made half of it durable).
//  DISK-3  A failed op (ENOSPC, EIO on read, EINVAL, ENOENT) changes nothing; a failed sync (EIO)
//          discards that file's unsynced writes (Linux drops the dirty pages and a later fsync
//          reports success).
//  DISK-4  Everything random (faults, tears, latencies) comes from the SimRng given; same seed and
//          ops => same disk.
//
// Faults injected (rates per op, see DiskFaultConfig): read EIO, bit-rot in returned bytes,
// lost writes, misdirected writes, fsync EIO, ENOSPC, slow I/O; at rest: corrupt(); on crash:
// lost/torn writes and undone namespace changes.

import { gather, isWriteData, writeLength, type DirEntry, type DiskError, type DiskOp, type DiskResult, type WriteData } from '../core/io.ts';
import type { SimRng } from './rng.ts';

export interface DiskFaultConfig {
  readErrorRate?: number;
  /** Per read: the returned bytes have a flipped bit (the data at rest is intact). */
  bitRotRate?: number;
  /** Per write: reports success but never lands. */
  lostWriteRate?: number;
  /** Per write: reports success but lands at another offset of the same file. */
  misdirectedWriteRate?: number;
  /** Per sync/syncDir: fails with EIO (a file's unsynced writes are discarded, DISK-3). */
  syncFailRate?: number;
  /** Per write/allocate: fails with ENOSPC, changing nothing. */
  enospcRate?: number;
  /** Latency drawn uniformly per op; sync and syncDir take 3x. Default { min: 0.05, max: 0.5 }. */
  latencyMs?: { min: number; max: number };
  /** Per op: add slowMs to its latency. */
  slowRate?: number;
  slowMs?: number;
  /** Per crash, for each change made since its file's last sync: the probability that it reaches
   * the platter (whole, torn or in scattered sectors; DISK-1). 0: a crash keeps exactly what was
   * synced. Default 0.5. */
  tornWriteRate?: number;
}

export type DiskExecResult = { ok: true; result: DiskResult } | { ok: false; error: DiskError };

/** One change since the last sync: restore `old` at `offset`, then set the length to `oldLen`. */
interface Undo {
  readonly offset: number;
  readonly old: Uint8Array;
  readonly oldLen: number;
  /** A write's bytes, as written (a crash may land it, or part of it, after a rollback: DISK-1);
   *  null for a resize to `offset`. */
  readonly data: Uint8Array | null;
  /** DISK-5: a durable write's change: a crash lands it whole, a failed sync keeps it. */
  durable?: boolean;
}

class Inode {
  buf: Uint8Array = new Uint8Array(0);
  len = 0;
  undo: Undo[] = [];

  /** Sets the length, zero-filling any growth (bytes past len may be stale). */
  setLen(newLen: number): void {
    if (newLen > this.buf.length) {
      const grown = new Uint8Array(Math.max(newLen, this.buf.length * 2, 64));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    } else if (newLen > this.len) {
      this.buf.fill(0, this.len, newLen);
    }
    this.len = newLen;
  }

  /** Writes bytes at offset (growing as needed) and records how to undo it. */
  write(offset: number, data: Uint8Array): void {
    const oldLen = this.len;
    const old = this.buf.slice(offset, Math.min(offset + data.length, oldLen));
    this.undo.push({ offset, old, oldLen, data: data.slice() });
    if (offset + data.length > this.len) this.setLen(offset + data.length);
    this.buf.set(data, offset);
  }

  resize(size: number): void {
    const oldLen = this.len;
    const old = size < oldLen ? this.buf.slice(size, oldLen) : new Uint8Array(0);
    this.undo.push({ offset: size, old, oldLen, data: null });
    this.setLen(size);
  }

  rollback(): void {
    for (let i = this.undo.length - 1; i >= 0; i--) {
      const u = this.undo[i];
      if (u.offset + u.old.length > this.len) this.setLen(u.offset + u.old.length);
      this.buf.set(u.old, u.offset);
      this.setLen(u.oldLen);
    }
    this.undo = [];
  }

  /** Back to the last sync, then the durable writes made since (DISK-5) again, in order: the
   *  file as durable as it stands (its other unsynced changes dropped). */
  rollbackUnsynced(): void {
    const durable = this.undo.filter((u) => u.durable === true);
    this.rollback();
    for (const u of durable) this.write(u.offset, u.data!);
    this.undo = [];
  }

  /** The durable contents, computed on a copy (rollback without mutating). */
  durable(): Uint8Array {
    const copy = new Inode();
    copy.buf = this.buf.slice(0, Math.max(this.len, 1));
    copy.len = this.len;
    copy.undo = this.undo;
    copy.rollbackUnsynced();
    return copy.buf.slice(0, copy.len);
  }
}

/** A journalled namespace change: set (inode) or delete (null) `path`; `dir` is its parent. */
interface NsChange {
  readonly dir: string;
  readonly path: string;
  readonly inode: Inode | null;
}

const MAX_PATH_CHARS = 4096;
/** Larger files are refused (EINVAL): a runaway offset must not allocate the host's memory. */
const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** '' for the root; otherwise the path without its last component. */
const parentDir = (path: string): string => {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
};

const validPath = (path: string): boolean => {
  if (path.length === 0 || path.length > MAX_PATH_CHARS) return false;
  for (const part of path.split('/')) if (part === '' || part === '.' || part === '..') return false;
  return true;
};

const normDir = (dir: string): string | undefined => {
  if (dir === '' || dir === '.' || dir === './') return '';
  const d = dir.endsWith('/') ? dir.slice(0, -1) : dir;
  return validPath(d) ? d : undefined;
};

const validRange = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;
/** DISK-1: the unit in which a crash may land part of a write. */
const SECTOR_BYTES = 512;
const EMPTY: DiskResult = Object.freeze({});
const DEFAULT_LATENCY_MS: NonNullable<DiskFaultConfig['latencyMs']> = { min: 0.05, max: 0.5 };

/**
 * The ops that may be in progress together at the head of a node's not-yet-completed disk ops
 * (core/io.ts): a leading run of durable writes to one file with pairwise disjoint byte ranges,
 * else just the head.
 */
export const inProgressRun = (pending: readonly DiskOp[]): DiskOp[] => {
  const first = pending[0];
  if (first === undefined) return [];
  if (first.kind !== 'write' || first.sync !== true) return [first];
  const run: Extract<DiskOp, { kind: 'write' }>[] = [first];
  for (let n = 1; n < pending.length; n++) {
    const op = pending[n];
    if (op === undefined || op.kind !== 'write' || op.sync !== true || op.file !== first.file) break;
    const end = op.offset + writeLengthOf(op.data);
    if (run.some((w) => op.offset < w.offset + writeLengthOf(w.data) && w.offset < end)) break;
    run.push(op);
  }
  return run;
};

/** A write's length; 0 for malformed data (the driver fails such a write with EINVAL). */
const writeLengthOf = (data: unknown): number => (isWriteData(data) ? writeLength(data) : 0);

export class SimDisk {
  private readonly rng: SimRng;
  private faults: DiskFaultConfig;
  private readonly live = new Map<string, Inode>();
  private readonly durableNs = new Map<string, Inode>();
  /** Journal of namespace changes not yet made durable; groups never split on crash (DISK-2). */
  private journal: NsChange[][] = [];
  private readonly dirs = new Set<string>(['']);

  constructor(rng: SimRng, faults: DiskFaultConfig = {}) {
    this.rng = rng;
    this.faults = { ...faults };
  }

  setFaults(f: DiskFaultConfig): void {
    this.faults = { ...f };
  }

  getFaults(): DiskFaultConfig {
    return { ...this.faults };
  }

  files(): string[] {
    return [...this.live.keys()].sort();
  }

  /** Files under `prefix` with changes a crash could lose (written since their last sync). */
  unsyncedFiles(prefix: string): string[] {
    return [...this.live].filter(([path, inode]) => path.startsWith(prefix) && inode.undo.some((u) => u.durable !== true)).map(([path]) => path);
  }

  latencyMs(op: DiskOp): number {
    const lat = this.faults.latencyMs ?? DEFAULT_LATENCY_MS;
    if (!(lat.max >= lat.min && lat.min >= 0)) throw new Error(`SimDisk: bad latency range`);
    let ms = lat.min + this.rng.float() * (lat.max - lat.min);
    if (op.kind === 'sync' || op.kind === 'syncDir') ms *= 3;
    if (this.faults.slowRate && this.rng.chance(this.faults.slowRate)) ms += this.faults.slowMs ?? 50;
    return ms;
  }

  execute(op: DiskOp): DiskExecResult {
    switch (op.kind) {
      case 'write': {
        const before = this.live.get(op.file)?.undo.length ?? 0;
        const r = this.opWrite(op.file, op.offset, op.data);
        return r.ok && op.sync === true ? this.opDurableWrite(op.file, before) : r;
      }
      case 'sync':
        return this.opSync(op.file);
      case 'syncDir':
        return this.opSyncDir(op.dir);
      case 'read':
        return this.opRead(op.file, op.offset, op.length);
      case 'truncate':
        return this.opTruncate(op.file, op.size);
      case 'allocate':
        return this.opAllocate(op.file, op.size);
      case 'rename':
        return this.opRename(op.from, op.to);
      case 'remove':
        return this.opRemove(op.file);
      case 'list':
        return this.opList(op.dir);
      case 'stat':
        return this.opStat(op.file);
      default:
        return { ok: false, error: 'EINVAL' };
    }
  }

  // -------------------------------------------------------------------------------------------
  // Operations

  /** Resolves a file for create: EINVAL if the path (or a parent) collides with a directory/file. */
  private creatable(path: string): DiskError | undefined {
    if (!validPath(path)) return 'EINVAL';
    if (this.dirs.has(path)) return 'EINVAL';
    for (let d = parentDir(path); d !== ''; d = parentDir(d)) if (this.live.has(d)) return 'EINVAL';
    return undefined;
  }

  private getOrCreate(path: string): Inode {
    const existing = this.live.get(path);
    if (existing) return existing;
    for (let d = parentDir(path); !this.dirs.has(d); d = parentDir(d)) this.dirs.add(d);
    const inode = new Inode();
    this.live.set(path, inode);
    this.journal.push([{ dir: parentDir(path), path, inode }]);
    return inode;
  }

  private opWrite(file: string, offset: number, chunks: WriteData): DiskExecResult {
    const bad = this.creatable(file);
    if (bad) return { ok: false, error: bad };
    if (!validRange(offset) || !isWriteData(chunks)) return { ok: false, error: 'EINVAL' };
    const data = gather(chunks); // a gathered write lands as one write (same tearing as writev)
    if (offset + data.length > MAX_FILE_BYTES) return { ok: false, error: 'EINVAL' };
    if (this.faults.enospcRate && this.rng.chance(this.faults.enospcRate)) return { ok: false, error: 'ENOSPC' };
    const inode = this.getOrCreate(file);
    if (this.faults.lostWriteRate && this.rng.chance(this.faults.lostWriteRate)) return { ok: true, result: EMPTY };
    let at = offset;
    if (this.faults.misdirectedWriteRate && this.rng.chance(this.faults.misdirectedWriteRate)) {
      const shift = this.rng.int(1, 4) * 4096;
      at = (this.rng.chance(0.5) || offset < shift) && offset + shift + data.length <= MAX_FILE_BYTES ? offset + shift : Math.max(0, offset - shift);
    }
    if (data.length > 0) inode.write(at, data); // a zero-length write changes nothing (pwrite)
    return { ok: true, result: EMPTY };
  }

  /** DISK-5: the write just made (if the disk did not lose it: undo past `before`) is durable. */
  private opDurableWrite(file: string, before: number): DiskExecResult {
    const inode = this.live.get(file)!;
    if (this.faults.syncFailRate && this.rng.chance(this.faults.syncFailRate)) {
      inode.rollbackUnsynced(); // DISK-3: the dirty pages are dropped, this write's with them
      return { ok: false, error: 'EIO' };
    }
    if (inode.undo.length === before + 1 && before === 0) inode.undo = []; // nothing else unsynced
    else if (inode.undo.length === before + 1) inode.undo[before]!.durable = true;
    return { ok: true, result: EMPTY };
  }

  private opSync(file: string): DiskExecResult {
    if (!validPath(file)) return { ok: false, error: 'EINVAL' };
    const inode = this.live.get(file);
    if (!inode) return { ok: false, error: 'ENOENT' };
    if (this.faults.syncFailRate && this.rng.chance(this.faults.syncFailRate)) {
      inode.rollbackUnsynced(); // DISK-3: the dirty pages are dropped, not retried (durable writes stay)
      return { ok: false, error: 'EIO' };
    }
    inode.undo = [];
    return { ok: true, result: EMPTY };
  }

  private opSyncDir(dirIn: string): DiskExecResult {
    const dir = normDir(dirIn);
    if (dir === undefined) return { ok: false, error: 'EINVAL' };
    if (!this.dirs.has(dir)) return { ok: false, error: 'ENOENT' };
    if (this.faults.syncFailRate && this.rng.chance(this.faults.syncFailRate)) return { ok: false, error: 'EIO' };
    const kept: NsChange[][] = [];
    for (const group of this.journal) {
      const rest: NsChange[] = [];
      for (const c of group) {
        if (c.dir === dir) this.applyDurable(c);
        else rest.push(c);
      }
      if (rest.length > 0) kept.push(rest);
    }
    this.journal = kept;
    return { ok: true, result: EMPTY };
  }

  private applyDurable(c: NsChange): void {
    if (c.inode) this.durableNs.set(c.path, c.inode);
    else this.durableNs.delete(c.path);
  }

  private opRead(file: string, offset: number, length: number): DiskExecResult {
    if (!validPath(file) || !validRange(offset) || !validRange(length)) return { ok: false, error: 'EINVAL' };
    const inode = this.live.get(file);
    if (!inode) return { ok: false, error: 'ENOENT' };
    if (this.faults.readErrorRate && this.rng.chance(this.faults.readErrorRate)) return { ok: false, error: 'EIO' };
    const end = Math.min(inode.len, offset + length);
    const data = offset >= end ? new Uint8Array(0) : inode.buf.slice(offset, end);
    if (data.length > 0 && this.faults.bitRotRate && this.rng.chance(this.faults.bitRotRate)) {
      data[this.rng.int(0, data.length - 1)] ^= 1 << this.rng.int(0, 7);
    }
    return { ok: true, result: { data } };
  }

  private opTruncate(file: string, size: number): DiskExecResult {
    if (!validPath(file) || !validRange(size) || size > MAX_FILE_BYTES) return { ok: false, error: 'EINVAL' };
    const inode = this.live.get(file);
    if (!inode) return { ok: false, error: 'ENOENT' };
    if (size > inode.len && this.faults.enospcRate && this.rng.chance(this.faults.enospcRate)) {
      return { ok: false, error: 'ENOSPC' };
    }
    if (size !== inode.len) inode.resize(size);
    return { ok: true, result: EMPTY };
  }

  /** Creates the file if missing (preallocating a new segment is the common use). */
  private opAllocate(file: string, size: number): DiskExecResult {
    const bad = this.creatable(file);
    if (bad) return { ok: false, error: bad };
    if (!validRange(size) || size > MAX_FILE_BYTES) return { ok: false, error: 'EINVAL' };
    if (this.faults.enospcRate && this.rng.chance(this.faults.enospcRate)) return { ok: false, error: 'ENOSPC' };
    const inode = this.getOrCreate(file);
    if (size > inode.len) inode.resize(size);
    return { ok: true, result: EMPTY };
  }

  private opRename(from: string, to: string): DiskExecResult {
    if (!validPath(from) || !validPath(to)) return { ok: false, error: 'EINVAL' }; // before ENOENT
    const inode = this.live.get(from);
    if (!inode) return { ok: false, error: 'ENOENT' };
    const bad = this.creatable(to);
    if (bad) return { ok: false, error: bad };
    if (from === to) return { ok: true, result: EMPTY };
    for (let d = parentDir(to); !this.dirs.has(d); d = parentDir(d)) this.dirs.add(d);
    this.live.delete(from);
    this.live.set(to, inode);
    this.journal.push([
      { dir: parentDir(to), path: to, inode },
      { dir: parentDir(from), path: from, inode: null },
    ]);
    return { ok: true, result: EMPTY };
  }

  private opRemove(file: string): DiskExecResult {
    if (!validPath(file)) return { ok: false, error: 'EINVAL' };
    if (!this.live.has(file)) return { ok: false, error: 'ENOENT' };
    this.live.delete(file);
    this.journal.push([{ dir: parentDir(file), path: file, inode: null }]);
    return { ok: true, result: EMPTY };
  }

  private opList(dirIn: string): DiskExecResult {
    const dir = normDir(dirIn);
    if (dir === undefined) return { ok: false, error: 'EINVAL' };
    const prefix = dir === '' ? '' : dir + '/';
    const entries: DirEntry[] = [];
    for (const [path, inode] of this.live) {
      if (path.startsWith(prefix) && path.indexOf('/', prefix.length) < 0) {
        entries.push({ name: path.slice(prefix.length), size: inode.len, dir: false });
      }
    }
    for (const d of this.dirs) {
      if (d !== '' && d.startsWith(prefix) && d.indexOf('/', prefix.length) < 0 && d !== dir) {
        entries.push({ name: d.slice(prefix.length), size: 0, dir: true });
      }
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { ok: true, result: { entries } };
  }

  private opStat(file: string): DiskExecResult {
    if (!validPath(file)) return { ok: false, error: 'EINVAL' };
    const inode = this.live.get(file);
    return { ok: true, result: { size: inode ? inode.len : -1 } };
  }

  // -------------------------------------------------------------------------------------------
  // Crash and at-rest faults

  /**
   * Power loss: see DISK-1 and DISK-2. `inProgress`: durable writes the driver had started (or
   * could have) but not completed; each lands whole, torn or not at all, after the rollback.
   */
  crash(inProgress: readonly DiskOp[] = []): void {
    const keep = this.rng.int(0, this.journal.length);
    for (let i = 0; i < keep; i++) for (const c of this.journal[i]) this.applyDurable(c);
    this.journal = [];
    this.live.clear();
    const seen = new Set<Inode>();
    for (const [path, inode] of this.durableNs) {
      this.live.set(path, inode);
      if (!seen.has(inode)) {
        seen.add(inode);
        this.crashInode(inode);
      }
    }
    for (const op of inProgress) {
      if (op.kind !== 'write' || op.sync !== true || !isWriteData(op.data)) continue;
      const inode = this.live.get(op.file);
      const data = gather(op.data);
      if (inode === undefined || data.length === 0 || op.offset + data.length > MAX_FILE_BYTES) continue;
      const fate = this.rng.int(0, 2); // 0 lost, 1 whole, 2 torn
      if (fate === 0) continue;
      const landed = fate === 1 ? data : this.tear(data);
      if (landed.length > 0) inode.write(op.offset, landed);
      inode.undo = [];
    }
  }

  /**
   * DISK-1: back to the last sync, then each change made since lands or not, independently, in
   * the order made (a later landed one over an earlier): a write whole, torn (a prefix, maybe
   * then garbage) or in scattered 512-byte sectors; a resize whole. The kernel writes dirty pages
   * back on its own schedule and a drive's volatile cache persists blocks in no set order, so a
   * later unsynced write may survive an earlier one, and a write may keep its middle sectors
   * only.
   */
  private crashInode(inode: Inode): void {
    const changes = inode.undo;
    if (changes.length === 0) return;
    const rate = this.faults.tornWriteRate ?? 0.5;
    inode.rollback();
    for (const c of changes) {
      if (c.durable === true) {
        inode.write(c.offset, c.data!); // DISK-5: durable, lands as written
        continue;
      }
      if (rate <= 0 || !this.rng.chance(rate)) continue;
      if (c.data === null) {
        inode.resize(c.offset);
        continue;
      }
      if (c.data.length === 0) continue;
      const how = this.rng.int(0, 2); // 0 whole, 1 torn, 2 scattered sectors
      if (how === 0) inode.write(c.offset, c.data);
      else if (how === 1) {
        const landed = this.tear(c.data);
        if (landed.length > 0) inode.write(c.offset, landed);
      } else {
        for (let at = c.offset; at < c.offset + c.data.length; ) {
          const next = Math.min(c.offset + c.data.length, (Math.floor(at / SECTOR_BYTES) + 1) * SECTOR_BYTES);
          if (this.rng.chance(0.5)) inode.write(at, c.data.subarray(at - c.offset, next - c.offset));
          at = next;
        }
      }
    }
    inode.undo = []; // what reached the platter after the crash is durable as it stands
  }

  /** What a torn write of `data` lands (DISK-1), as a copy: a prefix of it, maybe followed by
   *  garbage, within its length. */
  private tear(data: Uint8Array): Uint8Array {
    const keep = this.rng.int(0, data.length - 1);
    const landed = new Uint8Array(this.rng.chance(0.5) ? keep + this.rng.int(1, data.length - keep) : keep);
    landed.set(data.subarray(0, keep));
    for (let i = keep; i < landed.length; i++) landed[i] = this.rng.int(0, 255);
    return landed;
  }

  /** Bit-rot at rest: flips one bit in every byte of [offset, offset+length) that exists, both
   *  in the durable image and the current view (the page cache is gone too). */
  corrupt(file: string, offset: number, length: number): void {
    const inode = this.live.get(file) ?? this.durableNs.get(file);
    if (!inode) throw new Error(`SimDisk.corrupt: no such file ${file}`);
    if (!validRange(offset) || !validRange(length)) throw new Error('SimDisk.corrupt: bad range');
    for (let p = offset; p < offset + length; p++) {
      const mask = 1 << this.rng.int(0, 7);
      if (p < inode.len) inode.buf[p] ^= mask;
      for (const u of inode.undo) {
        if (p >= u.offset && p < u.offset + u.old.length) u.old[p - u.offset] ^= mask;
        // DISK-5: a durable write's bytes are re-landed by a crash or a failed sync: rot them too.
        if (u.durable === true && u.data !== null && p >= u.offset && p < u.offset + u.data.length) u.data[p - u.offset] ^= mask;
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Inspection (tests, checkers)

  /** What a crash that keeps no unsynced change and tears nothing would leave: path -> bytes. */
  durableFiles(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const path of [...this.durableNs.keys()].sort()) out.set(path, this.durableNs.get(path)!.durable());
    return out;
  }

  /** The current (volatile) contents of a file, or undefined. A copy. */
  peek(file: string): Uint8Array | undefined {
    const inode = this.live.get(file);
    return inode ? inode.buf.slice(0, inode.len) : undefined;
  }
}
