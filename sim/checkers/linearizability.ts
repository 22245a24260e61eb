// sim/checkers/linearizability.ts: the linearizability checker for client histories.
//
// Owns: deciding whether a set of operations (sim/history.ts) is linearizable with respect to a
// sequential model. The algorithm is Porcupine's (anishathalye/porcupine, checker.go): Wing &
// Gong's search with Lowe's improvements.
//  - Every op becomes a call entry and a return entry in one doubly linked list sorted by time
//    (a call and a return at the same time count as concurrent: calls sort first).
//  - The search walks the list from the head: a call entry whose op the model accepts from the
//    current state is "lifted" (its call and return entries unlinked) and pushed on an explicit
//    stack with the state before it; reaching a return entry means the op returning there was not
//    linearized in time, so the search backtracks (pops, unlifts, tries the next call).
//  - Lowe's cache: the pair (set of linearized ops, model state) is remembered; reaching a pair
//    seen before prunes the branch, because its future is identical.
//  - P-compositionality: when the model supplies `partition`, each part (a key, a topic) is
//    checked on its own; the history is linearizable iff every part is.
//
// Invariants:
//  LIN-1  'ok' means a linearization was found: a total order of all ops consistent with real
//         time (an op that returned before another was called precedes it) that the model
//         accepts step by step. 'illegal' means the exhaustive search found none.
//  LIN-2  the search is deterministic: same ops, same model, same maxSteps -> same result and
//         the same step count (no wall clock; ties broken by op position).
//  LIN-3  ops with an unknown outcome (output undefined, ret Infinity) may be linearized at any
//         point after their call, including after every other op, which is how "it never
//         happened" is represented; the model decides which outcomes an unknown output allows.
//  LIN-4  a model's partition returns only ops it was given, each at most once.
//
// Budget: each model step attempt or backtrack is one step; the total over all parts is bounded
// by maxSteps, and exhausting it yields 'unknown' (never a guess). Parts are searched smallest
// first so one pathological part does not starve the others.
//
// Models must be pure: step() must not mutate the state it is given (states are cached).

import type { Operation } from '../history.ts';

export type { Operation } from '../history.ts';

export interface Model<S, I, O> {
  init(): S;
  /** Output undefined = unknown outcome: accept any outcome the semantics allow. */
  step(state: S, input: I, output: O | undefined): { ok: boolean; state: S };
  equal(a: S, b: S): boolean;
  /** Optional: a string with equal(a, b) => hash(a) === hash(b); speeds up the cache. */
  hash?(s: S): string;
  /**
   * Optional: independent parts (per key, per topic), each checked alone. Parts must hold the
   * given op objects, each at most once; a part may omit ops that constrain nothing whatever
   * happens (a read with unknown output), which keeps the search small.
   */
  partition?(ops: Operation<I, O>[]): Operation<I, O>[][];
  describe?(op: Operation<I, O>): string;
}

export type CheckResult =
  | { result: 'ok' }
  | { result: 'illegal'; partIndex: number; longestLinearizablePrefix: string[]; unlinearizable: string[] }
  | { result: 'unknown'; reason: 'budget' };

export interface CheckOptions {
  /** Search budget over all parts (default DEFAULT_MAX_STEPS). */
  maxSteps?: number;
  /** How many ops an illegal explanation lists at most, per list (default 20). */
  explainLimit?: number;
}

export interface CheckStats {
  result: CheckResult;
  /** Search steps spent (model step attempts + backtracks). */
  steps: number;
  /** Number of parts the model's partition produced (1 without partition). */
  parts: number;
}

// Memory grows with successful steps (one cache entry each: ~ops/8 bytes + the state), so the
// default keeps a worst-case part of a few thousand ops within a few hundred MB.
const DEFAULT_MAX_STEPS = 1_000_000;
const DEFAULT_EXPLAIN_LIMIT = 20;

export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  opts?: { maxSteps?: number; explainLimit?: number },
): CheckResult {
  return checkOperationsWithStats(model, ops, opts).result;
}

/** checkOperations, also reporting how much search it took (for budgets and perf tests). */
export function checkOperationsWithStats<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  opts: CheckOptions = {},
): CheckStats {
  const maxSteps = opts.maxSteps ?? DEFAULT_MAX_STEPS;
  const explainLimit = opts.explainLimit ?? DEFAULT_EXPLAIN_LIMIT;
  if (!Number.isSafeInteger(maxSteps) || maxSteps < 0) throw new Error(`LIN: bad maxSteps ${maxSteps}`);
  if (!Number.isSafeInteger(explainLimit) || explainLimit < 1) throw new Error(`LIN: bad explainLimit`);
  ops.forEach(assertOperation);
  const parts = model.partition ? model.partition(ops) : [ops];
  assertPartition(ops, parts);
  const order = parts.map((part, index) => ({ index, size: part.length }));
  order.sort((a, b) => a.size - b.size || a.index - b.index);
  let steps = 0;
  for (const { index } of order) {
    const part = checkPart(model, parts[index], maxSteps - steps);
    steps += part.steps;
    if (steps > maxSteps) throw new Error('LIN-2: budget overrun');
    if (part.kind === 'budget') return { result: { result: 'unknown', reason: 'budget' }, steps, parts: parts.length };
    if (part.kind === 'illegal') {
      const explained = explain(model, parts[index], part.entries, part.bestPrefix, explainLimit);
      return { result: { result: 'illegal', partIndex: index, ...explained }, steps, parts: parts.length };
    }
  }
  return { result: { result: 'ok' }, steps, parts: parts.length };
}

/** LIN-4: parts hold only input ops, each at most once (omitting ops that constrain nothing is allowed). */
function assertPartition<I, O>(ops: Operation<I, O>[], parts: Operation<I, O>[][]): void {
  const input = new Set(ops);
  const seen = new Set<Operation<I, O>>();
  for (const part of parts) {
    for (const op of part) {
      if (!input.has(op)) throw new Error('LIN-4: partition returned an op that was not given');
      if (seen.has(op)) throw new Error('LIN-4: partition returned an op twice');
      seen.add(op);
    }
  }
}

function assertOperation(op: Operation<unknown, unknown>, i: number): void {
  if (!Number.isFinite(op.call)) throw new Error(`LIN: op ${i} has non-finite call ${op.call}`);
  if (Number.isNaN(op.ret) || op.ret < op.call) throw new Error(`LIN: op ${i} returns before its call`);
  if (op.ret === Infinity && op.output !== undefined) throw new Error(`LIN: op ${i} has ret Infinity but an output`);
}

// ---- the entry list -------------------------------------------------------------------------

/** Call/return entries as parallel arrays; index 0 is the head sentinel, -1 is nil. */
interface Entries {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  /** op index of the entry */
  readonly op: Int32Array;
  /** for a call entry, the index of its return entry; -1 for return entries */
  readonly match: Int32Array;
  /** position of each entry in time order (1-based), for explanations */
  readonly callPos: Int32Array;
  readonly retPos: Int32Array;
}

function makeEntries(ops: readonly Operation<unknown, unknown>[]): Entries {
  const n = ops.length;
  const sorted: { time: number; isCall: boolean; op: number }[] = [];
  ops.forEach((o, i) => {
    sorted.push({ time: o.call, isCall: true, op: i });
    sorted.push({ time: o.ret, isCall: false, op: i });
  });
  // Ties: calls before returns (concurrent), then op position: deterministic (LIN-2).
  // (Explicit comparisons: Infinity - Infinity is NaN.)
  sorted.sort((a, b) => (a.time !== b.time ? (a.time < b.time ? -1 : 1) : Number(b.isCall) - Number(a.isCall) || a.op - b.op));
  const size = 2 * n + 1;
  const e: Entries = {
    next: new Int32Array(size), prev: new Int32Array(size), op: new Int32Array(size).fill(-1),
    match: new Int32Array(size).fill(-1), callPos: new Int32Array(n), retPos: new Int32Array(n),
  };
  sorted.forEach((s, k) => {
    const idx = k + 1;
    e.op[idx] = s.op;
    e.prev[idx] = idx - 1;
    e.next[idx - 1] = idx;
    if (s.isCall) e.callPos[s.op] = idx;
    else e.retPos[s.op] = idx;
  });
  e.next[size - 1] = -1;
  e.prev[0] = -1;
  for (let i = 0; i < n; i++) {
    if (e.callPos[i] >= e.retPos[i]) throw new Error('LIN: call sorted after its return');
    e.match[e.callPos[i]] = e.retPos[i];
  }
  return e;
}

/** Unlinks a call entry and its return entry. */
function lift(e: Entries, call: number): void {
  const ret = e.match[call];
  e.next[e.prev[call]] = e.next[call];
  if (e.next[call] !== -1) e.prev[e.next[call]] = e.prev[call];
  e.next[e.prev[ret]] = e.next[ret];
  if (e.next[ret] !== -1) e.prev[e.next[ret]] = e.prev[ret];
}

/** Relinks what lift() unlinked, in reverse order. */
function unlift(e: Entries, call: number): void {
  const ret = e.match[call];
  e.next[e.prev[ret]] = ret;
  if (e.next[ret] !== -1) e.prev[e.next[ret]] = ret;
  e.next[e.prev[call]] = call;
  if (e.next[call] !== -1) e.prev[e.next[call]] = call;
}

// ---- the search ----------------------------------------------------------------------------

type PartResult =
  | { kind: 'ok'; steps: number }
  | { kind: 'budget'; steps: number }
  | { kind: 'illegal'; steps: number; entries: Entries; bestPrefix: number[] };

/**
 * The set of linearized ops as a bitset, with an incrementally maintained Zobrist hash (XOR of a
 * fixed pseudo-random 53-bit value per op), so the cache key costs O(1) per step instead of
 * O(ops). The per-op values come from a fixed LCG: deterministic (LIN-2).
 */
class LinearizedSet {
  readonly bits: Uint32Array;
  readonly #lo: Uint32Array;
  readonly #hi: Uint32Array;
  #hashLo = 0;
  #hashHi = 0;

  constructor(n: number) {
    this.bits = new Uint32Array(Math.ceil(n / 32));
    this.#lo = new Uint32Array(n);
    this.#hi = new Uint32Array(n);
    let x = 0x9e3779b9;
    for (let i = 0; i < n; i++) {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      this.#lo[i] = x;
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      this.#hi[i] = x >>> 11; // 21 bits: lo + hi * 2^32 stays a safe integer
    }
  }

  has(i: number): boolean {
    return (this.bits[i >>> 5] & (1 << (i & 31))) !== 0;
  }

  set(i: number): void {
    if (this.has(i)) throw new Error(`LIN: op ${i} linearized twice`);
    this.#flip(i);
  }

  clear(i: number): void {
    if (!this.has(i)) throw new Error(`LIN: op ${i} not linearized`);
    this.#flip(i);
  }

  /** A safe integer; equal sets have equal hashes. */
  hash(): number {
    return this.#hashHi * 0x1_0000_0000 + this.#hashLo;
  }

  #flip(i: number): void {
    this.bits[i >>> 5] ^= 1 << (i & 31);
    this.#hashLo = (this.#hashLo ^ this.#lo[i]) >>> 0;
    this.#hashHi = (this.#hashHi ^ this.#hi[i]) >>> 0;
  }
}

interface CacheEntry<S> {
  readonly bits: Uint32Array;
  readonly stateHash: string;
  readonly state: S;
}

/** Lowe's cache of (linearized set, state) pairs, bucketed by the set's hash. */
class Cache<S> {
  readonly #map = new Map<number, CacheEntry<S>[]>();
  readonly #model: Model<S, any, any>;
  constructor(model: Model<S, any, any>) {
    this.#model = model;
  }

  /** Adds the pair; false when an equal pair was already there. */
  add(set: LinearizedSet, state: S): boolean {
    const key = set.hash();
    const stateHash = this.#model.hash ? this.#model.hash(state) : '';
    let bucket = this.#map.get(key);
    if (bucket === undefined) {
      bucket = [];
      this.#map.set(key, bucket);
    }
    for (const seen of bucket) {
      if (seen.stateHash === stateHash && sameBits(seen.bits, set.bits) && this.#model.equal(seen.state, state)) return false;
    }
    bucket.push({ bits: set.bits.slice(), stateHash, state });
    return true;
  }
}

function sameBits(a: Uint32Array, b: Uint32Array): boolean {
  if (a.length !== b.length) throw new Error('LIN: bitsets of different parts compared');
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function checkPart<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[], budget: number): PartResult {
  const n = ops.length;
  if (n === 0) return { kind: 'ok', steps: 0 };
  const e = makeEntries(ops);
  const linearized = new LinearizedSet(n);
  const cache = new Cache<S>(model);
  const stackCall: number[] = []; // call entries lifted, in linearization order
  const stackState: S[] = []; // the state before each of them
  let bestPrefix: number[] = [];
  let state = model.init();
  let entry = e.next[0];
  let steps = 0;
  while (e.next[0] !== -1) {
    if (steps >= budget) return { kind: 'budget', steps };
    steps++;
    if (entry === -1) throw new Error('LIN: walked off the entry list');
    const opIndex = e.op[entry];
    if (e.match[entry] !== -1) {
      const op = ops[opIndex];
      const r = model.step(state, op.input, op.output);
      if (r.ok) {
        linearized.set(opIndex);
        if (cache.add(linearized, r.state)) {
          stackCall.push(entry);
          stackState.push(state);
          state = r.state;
          lift(e, entry);
          entry = e.next[0];
          if (stackCall.length > bestPrefix.length) bestPrefix = stackCall.map((c) => e.op[c]);
          continue;
        }
        linearized.clear(opIndex);
      }
      entry = e.next[entry];
    } else {
      // A return entry: the op returning here must already have been linearized; backtrack.
      const call = stackCall.pop();
      if (call === undefined) return { kind: 'illegal', steps, entries: e, bestPrefix };
      state = stackState.pop() as S;
      const undone = e.op[call];
      linearized.clear(undone);
      unlift(e, call);
      entry = e.next[call];
    }
  }
  if (stackCall.length !== n) throw new Error('LIN-1: list empty but not every op linearized');
  return { kind: 'ok', steps };
}

// ---- explanations ----------------------------------------------------------------------------

/**
 * At the deepest point the search reached, `bestPrefix` was linearized. Of the remaining ops, the
 * one whose return comes first (the blocker) could not be linearized before it returned, nor
 * could any op concurrent with it be placed first: those are the unlinearizable ops we list.
 */
function explain<S, I, O>(
  model: Model<S, I, O>,
  ops: Operation<I, O>[],
  e: Entries,
  bestPrefix: number[],
  limit: number,
): { longestLinearizablePrefix: string[]; unlinearizable: string[] } {
  const describe = (i: number): string => (model.describe ? model.describe(ops[i]) : describeOperation(ops[i]));
  const done = new Set(bestPrefix);
  const remaining = ops.map((_, i) => i).filter((i) => !done.has(i));
  if (remaining.length === 0) throw new Error('LIN: illegal with every op linearized');
  const blocker = remaining.reduce((a, b) => (e.retPos[b] < e.retPos[a] ? b : a));
  const others = remaining.filter((i) => i !== blocker && e.callPos[i] < e.retPos[blocker]);
  const prefix = bestPrefix.map(describe);
  const cut = prefix.length - limit;
  return {
    longestLinearizablePrefix: cut > 0 ? [`(... ${cut} earlier ops)`, ...prefix.slice(cut)] : prefix,
    unlinearizable: [blocker, ...others].slice(0, limit).map(describe),
  };
}

/**
 * The default op description: `p3 write {"key":"a","value":1} -> "ok" @[10,20]` (an `f` field in
 * the input equal to op.f is left out; `?` is an unknown output, `inf` an unknown return).
 */
export function describeOperation(op: Operation<unknown, unknown>): string {
  const out = op.output === undefined ? '?' : safeJson(op.output);
  const ret = op.ret === Infinity ? 'inf' : String(op.ret);
  let input = op.input;
  if (typeof input === 'object' && input !== null && !Array.isArray(input) && (input as { f?: unknown }).f === op.f) {
    const { f: _f, ...rest } = input as Record<string, unknown>;
    input = rest;
  }
  return `p${op.process} ${op.f} ${safeJson(input)} -> ${out} @[${op.call},${ret}]`;
}

/** JSON that survives bigint, byte arrays and cycles; for descriptions only. */
function safeJson(value: unknown): string {
  const seen = new Set<object>();
  try {
    const text = JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint') return `${v}n`;
      if (v instanceof Uint8Array) return `bytes(${v.length})`;
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[cycle]';
        seen.add(v);
      }
      return v;
    });
    return text === undefined ? String(value) : text;
  } catch {
    return String(value);
  }
}
