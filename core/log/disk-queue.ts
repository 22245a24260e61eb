// The log's outstanding disk operations, in emission order, each with its continuation.
// The disk contract (core/io.ts) completes one node's disk ops in emission order, so completions
// must match the head of this FIFO (DQ-1, asserted): that order is what lets a sync's DiskDone
// stand for every write emitted before it.
import type { DiskError, DiskOp, DiskOpId, DiskResult, Effect } from '../io.ts';

/** The shared result of a take() with nothing queued (frozen: a caller that pushes to it throws). */
const NO_EFFECTS: readonly Effect[] = Object.freeze([]);

export interface Pending {
  readonly id: DiskOpId;
  readonly op: DiskOp;
  onDone?: (result: DiskResult) => void;
  onFail?: (error: DiskError) => void;
}

export type NextDiskOpId = () => DiskOpId;

export const counterIds = (start = 1): NextDiskOpId => {
  let next = start;
  return () => next++;
};

export class DiskQueue {
  private items: Pending[] = [];
  private head = 0;
  /** Effects emitted since the owner last drained them. */
  out: Effect[] = [];

  constructor(private readonly nextId: NextDiskOpId) {}

  get size(): number {
    return this.items.length - this.head;
  }

  owns(id: DiskOpId): boolean {
    for (let i = this.head; i < this.items.length; i++) if (this.items[i].id === id) return true;
    return false;
  }

  emit(op: DiskOp, onDone?: (r: DiskResult) => void, onFail?: (e: DiskError) => void): DiskOpId {
    const id = this.nextId();
    this.items.push({ id, op, onDone, onFail });
    this.out.push({ tag: 'Disk', id, op });
    return id;
  }

  /** Attaches a success continuation to an op emitted earlier without one. */
  attach(id: DiskOpId, onDone: (r: DiskResult) => void): void {
    for (let i = this.items.length - 1; i >= this.head; i--) {
      const p = this.items[i];
      if (p.id !== id) continue;
      if (p.onDone !== undefined) throw new Error('DQ: op already has a continuation');
      p.onDone = onDone;
      return;
    }
    throw new Error(`DQ: attach to unknown op ${id}`);
  }

  take(): Effect[] {
    if (this.out.length === 0) return NO_EFFECTS as Effect[]; // most appends emit nothing: no garbage
    const out = this.out;
    this.out = [];
    return out;
  }

  /** Pops the head, checking DQ-1. */
  complete(id: DiskOpId): Pending {
    if (this.head >= this.items.length) throw new Error(`DQ-1: completion ${id} with nothing pending`);
    const p = this.items[this.head];
    if (p.id !== id) throw new Error(`DQ-1: completion ${id} out of order (expected ${p.id})`);
    this.items[this.head] = undefined as unknown as Pending;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    }
    return p;
  }

  /** After a crash the driver forgets outstanding ops; so does the queue. */
  clear(): void {
    this.items = [];
    this.head = 0;
    this.out = [];
  }
}
