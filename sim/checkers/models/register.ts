// sim/checkers/models/register.ts: the sequential model of read/write/cas registers.
//
// Owns: the semantics the linearizability checker uses for a key-value register workload. Ops
// carry `f` in their input, e.g. history.invoke(p, 'write', { f: 'write', key: 'a', value: 3 }, t).
//  - { f: 'read', key? }              output: the value read (null = never written, by default)
//  - { f: 'write', key?, value }       output: ignored (an ok write took effect)
//  - { f: 'cas', key?, from, to }      output: true (swapped) or false (value was not `from`)
// Output undefined (info / still open) accepts every outcome: a read constrains nothing, a write
// or cas takes effect here (a cas only if `from` matches). "It never took effect" is covered by
// the checker placing the op after every other op (LIN-3).
//
// Invariants:
//  REG-1  a read returns exactly the last value written (or swapped in) before it, or the initial
//         value; values compare structurally (canonicalKey, PART-2).
//  REG-2  a cas reports true iff the value equalled `from`, and then sets `to`.
//  REG-3  ops with different keys are independent: the model partitions by key (ops without a
//         key share one register).
// Malformed ops (unknown f, a cas output that is not a boolean) are rejected by step, so they
// surface as 'illegal' with their description rather than passing silently.

import type { Model } from '../linearizability.ts';
import type { Operation } from '../../history.ts';
import { canonicalKey, partitionBy, sameValue } from './partition-by.ts';

export type RegisterKey = string | number;

export type RegisterInput =
  | { f: 'read'; key?: RegisterKey }
  | { f: 'write'; key?: RegisterKey; value: unknown }
  | { f: 'cas'; key?: RegisterKey; from: unknown; to: unknown };

/** A read's value, a cas's boolean; ignored for writes. */
export type RegisterOutput = unknown;

/** Values by key (canonical key string); a missing key holds the initial value. */
export type RegisterState = ReadonlyMap<string, unknown>;

function keyString(input: RegisterInput): string {
  return input.key === undefined ? '' : `${typeof input.key}:${input.key}`;
}

export function makeRegisterModel(initial: unknown = null): Model<RegisterState, RegisterInput, RegisterOutput> {
  const read = (s: RegisterState, k: string): unknown => (s.has(k) ? s.get(k) : initial);
  const set = (s: RegisterState, k: string, v: unknown): RegisterState => new Map(s).set(k, v);
  return {
    init: () => new Map(),
    step(state, input, output) {
      const k = keyString(input);
      switch (input?.f) {
        case 'read':
          return { ok: output === undefined || sameValue(read(state, k), output), state };
        case 'write':
          return { ok: true, state: set(state, k, input.value) };
        case 'cas': {
          const matches = sameValue(read(state, k), input.from);
          if (output === undefined) return { ok: true, state: matches ? set(state, k, input.to) : state };
          if (typeof output !== 'boolean') return { ok: false, state };
          if (output !== matches) return { ok: false, state };
          return { ok: true, state: matches ? set(state, k, input.to) : state };
        }
        default:
          return { ok: false, state };
      }
    },
    equal: (a, b) => registerHash(a) === registerHash(b),
    hash: registerHash,
    // Reads with an unknown output constrain nothing: left out of the search (LIN-4 allows it).
    partition: (ops: Operation<RegisterInput, RegisterOutput>[]) =>
      partitionBy(ops.filter((op) => !(op.input?.f === 'read' && op.output === undefined)), (op) => keyString(op.input)),
  };
}

function registerHash(s: RegisterState): string {
  return [...s.entries()].map(([k, v]) => `${k}=${canonicalKey(v)}`).sort().join(';');
}

/** Registers that start at null, partitioned per key. */
export const registerModel: Model<RegisterState, RegisterInput, RegisterOutput> = makeRegisterModel(null);
