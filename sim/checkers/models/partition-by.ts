// sim/checkers/models/partition-by.ts: helpers shared by the checker models.
//
// Owns: splitting operations into independent parts (P-compositionality) and a canonical value
// key used to compare and hash model values.
//
// Invariants:
//  PART-1  every op lands in exactly one part; parts keep the ops' original relative order and
//          appear in order of their key's first occurrence (deterministic, LIN-2).
//  PART-2  canonicalKey(a) === canonicalKey(b) iff a and b are the same JSON-like value (object
//          key order ignored; bigint, Uint8Array, undefined and NaN distinguished).

import type { Operation } from '../../history.ts';

/** Groups ops by `keyOf`, preserving order (PART-1). */
export function partitionBy<I, O>(ops: Operation<I, O>[], keyOf: (op: Operation<I, O>) => string): Operation<I, O>[][] {
  const parts = new Map<string, Operation<I, O>[]>();
  for (const op of ops) {
    const key = keyOf(op);
    const part = parts.get(key);
    if (part === undefined) parts.set(key, [op]);
    else part.push(op);
  }
  return [...parts.values()];
}

/** A canonical string for a JSON-like value (PART-2). Depth-bounded against hostile input. */
export function canonicalKey(value: unknown, depth = 0): string {
  if (depth > 64) throw new Error('canonicalKey: value nested deeper than 64');
  switch (typeof value) {
    case 'undefined': return 'u';
    case 'boolean': return value ? 't' : 'f';
    case 'number': return Number.isNaN(value) ? 'NaN' : `n${Object.is(value, -0) ? '-0' : value}`;
    case 'bigint': return `b${value}`;
    case 'string': return JSON.stringify(value);
    case 'object': break;
    default: return `?${String(value)}`;
  }
  if (value === null) return 'null';
  if (value instanceof Uint8Array) return `x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  if (Array.isArray(value)) return `[${value.map((v) => canonicalKey(v, depth + 1)).join(',')}]`;
  const entries = Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonicalKey((value as Record<string, unknown>)[k], depth + 1)}`);
  return `{${entries.join(',')}}`;
}

export function sameValue(a: unknown, b: unknown): boolean {
  return Object.is(a, b) || canonicalKey(a) === canonicalKey(b);
}
