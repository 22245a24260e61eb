// sim/checkers/brute-force.ts: the exhaustive reference the linearizability checker's tests
// compare it against. It tries every order of the ops that respects real time (an op may go next
// only if no op still unplaced returned strictly before it was called), stepping the model along;
// exponential, so for histories of a handful of ops only.

import type { Model } from './linearizability.ts';
import type { Operation } from '../history.ts';

export function bruteForce<S, I, O>(model: Model<S, I, O>, ops: readonly Operation<I, O>[]): boolean {
  const used = new Array<boolean>(ops.length).fill(false);
  const go = (state: S, depth: number): boolean => {
    if (depth === ops.length) return true;
    for (let i = 0; i < ops.length; i++) {
      if (used[i]) continue;
      if (ops.some((o, j) => !used[j] && j !== i && o.ret < ops[i].call)) continue;
      const r = model.step(state, ops[i].input, ops[i].output);
      if (!r.ok) continue;
      used[i] = true;
      const found = go(r.state, depth + 1);
      used[i] = false;
      if (found) return true;
    }
    return false;
  };
  return go(model.init(), 0);
}
