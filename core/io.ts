// The io boundary: everything a node is told (Input) and everything it asks for (Effect).
//
// A node is a pure state machine: `step(input) -> Effect[]`. It never reads a clock, a random
// source, the environment or a file, and it never waits. Time arrives as `now` (monotonic ms) and
// `wall` (wall-clock ms, which may jump backwards) on every input; randomness comes from a seed
// in `Start`; disk contents arrive as `DiskDone` results of `Disk` effects the node issued.
//
// Two drivers interpret effects: sim/ (seeded, virtual time, faulty) and runtime-node/ (sockets,
// files, real clocks). Both must honour the contract below; the simulator is allowed to be as
// hostile as the contract permits and no more.
//
// Disk contract (both drivers):
//  - Paths are relative to the node's data directory, '/'-separated, no '..'. A `write` creates
//    the file and any missing parent directories.
//  - Disk effects of one node are carried out one at a time in the order they were emitted, and
//    completions (`DiskDone` / `DiskFailed`) arrive in that same order. So a `sync` covers every
//    `write` to that file emitted before it, and a reply emitted on a `DiskDone` of a `sync` may
//    promise durability for those writes. One exception: a run of consecutive durable writes
//    (below) to one file whose byte ranges are pairwise disjoint may be carried out at the same
//    time (their completions still arrive in emission order); a durable write intersecting an
//    earlier one of the run, and an op of any other kind, start only once every earlier op
//    completed. So bytes written twice always end as the later write left them.
//  - A durable write (`write` with `sync: true`) completes only once its own bytes are durable,
//    as if a sync of the file followed it; it need not cover the file's other unsynced writes.
//    A crash may land each durable write of a run in progress whole, torn or not at all,
//    independently of the others: a later one may survive an earlier one.
//  - A `write` is durable only after a later `sync` of the same file completed. A crash may
//    lose any of the writes (and resizes) not yet covered by a completed sync, in any
//    combination: each may land whole, not at all, torn (a prefix, or a prefix plus garbage) or
//    in scattered sectors, so a later one may survive an earlier one (the kernel writes pages
//    back on its own schedule and a drive's cache persists blocks in no set order).
//  - A new file's name, a `rename` and a `remove` are durable only after a later `syncDir` of the
//    parent directory completed; a crash before that may undo them.
//  - A `write`'s data is one array or a list of chunks written back to back (a gathered write,
//    writev): either way it is one op with one completion and the same crash semantics. The
//    driver owns the bytes until the op completes (FileDisk hands them to the kernel, SimDisk
//    copies them); the machine must not change them before.
//  - `read` returns at most `length` bytes; fewer means end of file. A read may fail (EIO) or,
//    under bit-rot, return wrong bytes: on-disk formats carry checksums for that reason.
//  - `allocate` extends a file to at least `size` bytes with zeroes (preallocation); data past
//    what was written reads as zeroes. It never shrinks a file.
//  - `list` returns the entries of a directory (files with their sizes, sub-directories marked);
//    a missing directory lists as empty.
//
// Invariant IO-1 (see proofs-notes/io.md): no Reply or Send that acknowledges durability is
// emitted before the DiskDone of the sync that covers the acknowledged data.

import { concatBytes, totalLength } from './bytes.ts';

export type NodeId = number;
export type ConnId = number;
export type DiskOpId = number;

/** Stamped on every input: the node's monotonic clock and its wall clock, both in ms. */
export interface Stamp {
  readonly now: number;
  readonly wall: number;
}

// ---------------------------------------------------------------------------------------------
// Disk operations

export type DiskOp =
  | { readonly kind: 'write'; readonly file: string; readonly offset: number; readonly data: WriteData; readonly sync?: boolean }
  | { readonly kind: 'sync'; readonly file: string }
  | { readonly kind: 'syncDir'; readonly dir: string }
  | { readonly kind: 'read'; readonly file: string; readonly offset: number; readonly length: number }
  | { readonly kind: 'truncate'; readonly file: string; readonly size: number }
  | { readonly kind: 'allocate'; readonly file: string; readonly size: number }
  | { readonly kind: 'rename'; readonly from: string; readonly to: string }
  | { readonly kind: 'remove'; readonly file: string }
  | { readonly kind: 'list'; readonly dir: string }
  | { readonly kind: 'stat'; readonly file: string };

export type DiskOpKind = DiskOp['kind'];

/** A write's bytes: one array, or chunks written back to back (a gathered write). */
export type WriteData = Uint8Array | readonly Uint8Array[];

/** True if `data` is a well-formed WriteData (drivers answer EINVAL otherwise). */
export const isWriteData = (data: unknown): data is WriteData =>
  data instanceof Uint8Array || (Array.isArray(data) && data.every((c) => c instanceof Uint8Array));

/** The number of bytes a write carries. */
export const writeLength = (data: WriteData): number => (data instanceof Uint8Array ? data.length : totalLength(data));

/** A write's bytes as one array (a copy only for a gathered write of two or more chunks). */
export const gather = (data: WriteData): Uint8Array => {
  if (data instanceof Uint8Array) return data;
  return data.length === 1 ? data[0]! : concatBytes(data);
};

export interface DirEntry {
  readonly name: string;
  readonly size: number;
  readonly dir: boolean;
}

/** What a completed disk operation returns; only the field matching the op's kind is set. */
export interface DiskResult {
  /** `read`: the bytes read (shorter than asked at end of file). */
  readonly data?: Uint8Array;
  /** `list`: directory entries, sorted by name. */
  readonly entries?: readonly DirEntry[];
  /** `stat`: the file size, or -1 if the file does not exist. */
  readonly size?: number;
}

export type DiskError = 'EIO' | 'ENOSPC' | 'ENOENT' | 'EINVAL';

// ---------------------------------------------------------------------------------------------
// Inputs

export type Input<Msg = unknown, Req = unknown> =
  // `seed`: drawn afresh for every incarnation (the simulator derives it from the world seed, the
  // node and its incarnation; a real runtime must draw it at random). Machines rely on it
  // differing across restarts (RAFT-15's correlationIds).
  | (Stamp & { readonly tag: 'Start'; readonly seed: number })
  | (Stamp & { readonly tag: 'Message'; readonly from: NodeId; readonly message: Msg })
  | (Stamp & { readonly tag: 'ClientRequest'; readonly conn: ConnId; readonly corr: number; readonly request: Req })
  | (Stamp & { readonly tag: 'ConnectionClosed'; readonly conn: ConnId })
  | (Stamp & { readonly tag: 'Timer'; readonly timer: string })
  | (Stamp & { readonly tag: 'DiskDone'; readonly id: DiskOpId; readonly op: DiskOpKind; readonly result: DiskResult })
  | (Stamp & { readonly tag: 'DiskFailed'; readonly id: DiskOpId; readonly op: DiskOpKind; readonly error: DiskError });

export type InputTag = Input['tag'];

// ---------------------------------------------------------------------------------------------
// Effects

export type Effect<Msg = unknown, Res = unknown> =
  | { readonly tag: 'Send'; readonly to: NodeId; readonly message: Msg }
  | { readonly tag: 'Reply'; readonly conn: ConnId; readonly corr: number; readonly response: Res }
  | { readonly tag: 'Close'; readonly conn: ConnId }
  | { readonly tag: 'Disk'; readonly id: DiskOpId; readonly op: DiskOp }
  /** Arms (or re-arms, replacing any earlier one of the same name) a timer firing after `afterMs`. */
  | { readonly tag: 'SetTimer'; readonly timer: string; readonly afterMs: number }
  | { readonly tag: 'CancelTimer'; readonly timer: string };

export type EffectTag = Effect['tag'];

/** A node as both drivers see it. `step` is synchronous, runs to completion and is deterministic. */
export interface Machine<Msg = unknown, Req = unknown, Res = unknown> {
  step(input: Input<Msg, Req>): Effect<Msg, Res>[];
}

// ---------------------------------------------------------------------------------------------
// Small constructors, so call sites read as the design does.

export const send = <Msg>(to: NodeId, message: Msg): Effect<Msg, never> => ({ tag: 'Send', to, message });
export const reply = <Res>(conn: ConnId, corr: number, response: Res): Effect<never, Res> => ({
  tag: 'Reply',
  conn,
  corr,
  response,
});
export const disk = (id: DiskOpId, op: DiskOp): Effect<never, never> => ({ tag: 'Disk', id, op });
export const setTimer = (timer: string, afterMs: number): Effect<never, never> => ({ tag: 'SetTimer', timer, afterMs });
export const cancelTimer = (timer: string): Effect<never, never> => ({ tag: 'CancelTimer', timer });
