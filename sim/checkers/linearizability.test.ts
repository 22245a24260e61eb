import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkOperations, checkOperationsWithStats, describeOperation, type Model, type Operation } from './linearizability.ts';
import { registerModel, type RegisterInput } from './models/register.ts';
import { History } from '../history.ts';
import { bruteForce } from './brute-force.ts';

type Op = Operation<RegisterInput, unknown>;
const INF = Infinity;
let nextProcess = 0;
const mk = (input: RegisterInput, output: unknown, call: number, ret: number): Op => ({
  process: nextProcess++, f: input.f, input, output: ret === INF ? undefined : output, call, ret,
});
const w = (value: unknown, call: number, ret: number, key?: string): Op => mk({ f: 'write', key, value }, 'ok', call, ret);
const r = (value: unknown, call: number, ret: number, key?: string): Op => mk({ f: 'read', key }, value, call, ret);
const cas = (from: unknown, to: unknown, swapped: boolean, call: number, ret: number, key?: string): Op =>
  mk({ f: 'cas', key, from, to }, swapped, call, ret);
const check = (ops: Op[], maxSteps?: number) => checkOperations(registerModel, ops, { maxSteps });

// ---- known-good histories ------------------------------------------------------------------

test('empty and sequential histories are ok', () => {
  assert.deepEqual(check([]), { result: 'ok' });
  assert.deepEqual(check([r(null, 0, 1), w(1, 2, 3), r(1, 4, 5), cas(1, 2, true, 6, 7), r(2, 8, 9), cas(1, 3, false, 10, 11)]), { result: 'ok' });
});

test('a read concurrent with a write may see either value', () => {
  assert.equal(check([w(1, 0, 10), r(1, 5, 6)]).result, 'ok');
  assert.equal(check([w(1, 0, 10), r(null, 5, 6)]).result, 'ok');
});

test('call and return at the same time count as concurrent', () => {
  assert.equal(check([w(1, 5, 10), r(null, 10, 12)]).result, 'ok');
});

// ---- known-BAD histories ---------------------------------------------------------------------

test('stale read after a completed write is illegal', () => {
  const res = check([w(1, 0, 10), w(2, 20, 30), r(1, 40, 50)]);
  assert.equal(res.result, 'illegal');
  if (res.result !== 'illegal') return;
  assert.equal(res.partIndex, 0);
  assert.deepEqual(res.longestLinearizablePrefix.length, 2, 'both writes linearize, the read cannot');
  assert.match(res.unlinearizable[0], /read .* -> 1 @\[40,50\]/);
});

test('lost write (acknowledged, never visible) is illegal', () => {
  assert.equal(check([w(1, 0, 10), r(null, 20, 30)]).result, 'illegal');
  assert.equal(check([w(1, 0, 10), w(2, 5, 15), r(2, 20, 30), r(1, 20, 30), r(2, 40, 50)]).result, 'illegal');
});

test('a read that sees a write before the write was invoked is illegal', () => {
  assert.equal(check([r(1, 0, 10), w(1, 20, 30)]).result, 'illegal');
});

test('a failed op (dropped) cannot explain a read', () => {
  const h = new History();
  h.invoke(0, 'write', { f: 'write', value: 1 }, 0);
  h.fail(0, 'NOT_LEADER', 5);
  h.invoke(1, 'read', { f: 'read' }, 10);
  h.ok(1, 1, 15);
  assert.equal(check(h.toOperations() as Op[]).result, 'illegal');
});

test('concurrent ops that are linearizable only in one order', () => {
  // w1 and w2 overlap; reads pin the order w2 < w1.
  assert.equal(check([w(1, 0, 100), w(2, 0, 100), r(2, 50, 60), r(1, 110, 120)]).result, 'ok');
  // the reads demand w1 < w2 and then w2 < w1: no order works.
  assert.equal(check([w(1, 0, 100), w(2, 0, 100), r(1, 50, 60), r(2, 70, 80), r(1, 110, 120)]).result, 'illegal');
  // two concurrent cas from the same value: only one may succeed.
  assert.equal(check([w(0, 0, 1), cas(0, 1, true, 2, 10), cas(0, 2, false, 2, 10), r(1, 11, 12)]).result, 'ok');
  assert.equal(check([w(0, 0, 1), cas(0, 1, true, 2, 10), cas(0, 2, true, 2, 10)]).result, 'illegal');
  assert.equal(check([w(0, 0, 1), cas(0, 1, true, 2, 10), cas(0, 2, false, 2, 10), r(2, 11, 12)]).result, 'illegal');
});

test('info ops may have happened (and must be assumed to, when a read saw them)', () => {
  assert.equal(check([w(1, 0, INF), r(1, 10, 20)]).result, 'ok');
  assert.equal(check([w(1, 0, INF), r(null, 10, 20)]).result, 'ok', 'or not happened');
  assert.equal(check([w(1, 0, INF), r(null, 10, 20), r(1, 30, 40)]).result, 'ok', 'or happened late');
  // once seen, an info write cannot be un-happened.
  assert.equal(check([w(1, 0, INF), r(1, 10, 20), r(null, 30, 40)]).result, 'illegal');
  // an info write cannot take effect before it was invoked.
  assert.equal(check([r(1, 0, 5), w(1, 10, INF)]).result, 'illegal');
  // info cas: took effect or not; a read pins it.
  assert.equal(check([w(0, 0, 1), cas(0, 5, false, 2, INF), r(5, 10, 11)]).result, 'ok');
  assert.equal(check([w(0, 0, 1), cas(0, 5, false, 2, INF), r(0, 10, 11)]).result, 'ok');
  assert.equal(check([w(7, 0, 1), cas(0, 5, false, 2, INF), r(5, 10, 11)]).result, 'illegal');
  // a read that never returned constrains nothing.
  assert.equal(check([w(1, 0, 1), r('anything', 2, INF)]).result, 'ok');
});

test('P-compositionality: keys are checked independently, partIndex names the bad key', () => {
  const ops = [w(1, 0, 10, 'a'), w(1, 0, 10, 'b'), r(1, 20, 30, 'a'), r(null, 20, 30, 'b')];
  const res = checkOperationsWithStats(registerModel, ops);
  assert.equal(res.parts, 2);
  assert.equal(res.result.result, 'illegal');
  if (res.result.result === 'illegal') assert.equal(res.result.partIndex, 1);
  assert.equal(check([w(1, 0, 10, 'a'), r(null, 20, 30, 'b')]).result, 'ok');
});

test('budget exhaustion says unknown, deterministically', () => {
  const ops = [w(1, 0, 100), w(2, 0, 100), w(3, 0, 100), r(3, 110, 120)];
  assert.deepEqual(check(ops, 2), { result: 'unknown', reason: 'budget' });
  const a = checkOperationsWithStats(registerModel, ops);
  const b = checkOperationsWithStats(registerModel, ops);
  assert.deepEqual(a, b);
  assert.equal(a.result.result, 'ok');
  assert.deepEqual(check(ops, a.steps), { result: 'ok' }, 'exactly the reported steps suffice');
  assert.deepEqual(check(ops, a.steps - 1), { result: 'unknown', reason: 'budget' });
});

test('explanations are bounded and use the model describe', () => {
  const ops: Op[] = [];
  for (let i = 0; i < 50; i++) ops.push(w(i, i * 10, i * 10 + 5));
  ops.push(r(-1, 1000, 1001));
  const res = checkOperations({ ...registerModel, describe: (op) => `#${op.process}` }, ops, { explainLimit: 5 });
  assert.equal(res.result, 'illegal');
  if (res.result !== 'illegal') return;
  assert.equal(res.longestLinearizablePrefix.length, 6);
  assert.match(res.longestLinearizablePrefix[0], /45 earlier/);
  assert.deepEqual(res.unlinearizable, [`#${ops[50].process}`]);
  assert.equal(describeOperation({ process: 1, f: 'read', input: { k: 1n }, output: undefined, call: 0, ret: INF }), 'p1 read {"k":"1n"} -> ? @[0,inf]');
  assert.equal(describeOperation(w(2, 3, 4, 'x')).replace(/^p\d+/, 'p'), 'p write {"key":"x","value":2} -> "ok" @[3,4]');
});

test('malformed operations are our bug: they throw', () => {
  assert.throws(() => check([w(1, 10, 5)]), /returns before its call/);
  assert.throws(() => check([w(1, NaN, 5)]), /non-finite/);
  const base: Model<number, unknown, unknown> = { init: () => 0, step: (s) => ({ ok: true, state: s }), equal: (a, b) => a === b };
  const twice = w(1, 0, 1);
  assert.throws(() => checkOperations({ ...base, partition: (ops) => [ops, ops] }, [twice]), /LIN-4.*twice/);
  assert.throws(() => checkOperations({ ...base, partition: () => [[w(1, 0, 1)]] }, [twice]), /LIN-4.*not given/);
  assert.deepEqual(checkOperations({ ...base, partition: () => [] }, [twice]), { result: 'ok' }, 'omitting is allowed');
});

// ---- generated histories --------------------------------------------------------------------

type Fate = 'ok' | 'infoHappened' | 'infoNotHappened' | 'fail';
interface PlannedOp { kind: 'read' | 'write' | 'cas'; key: number; a: number; b: number; from: number; to: number; fate: Fate }

const plannedOp = fc.record({
  kind: fc.constantFrom('read', 'write', 'cas'),
  key: fc.integer({ min: 0, max: 2 }),
  a: fc.integer({ min: 1, max: 300 }),
  b: fc.integer({ min: 0, max: 300 }),
  from: fc.integer({ min: 0, max: 3 }),
  to: fc.integer({ min: 0, max: 3 }),
  fate: fc.constantFrom<Fate>('ok', 'ok', 'ok', 'ok', 'infoHappened', 'infoNotHappened', 'fail'),
}) as fc.Arbitrary<PlannedOp>;

/**
 * Executes the plan atomically (op i at time i*100, in order), then records it through History
 * with call = point - a and ret = point + b, giving each op a free process (or a new one).
 */
function recordExecution(plan: PlannedOp[]): Op[] {
  const state = new Map<number, number | null>();
  type Rec = { input: RegisterInput; output: unknown; call: number; ret: number; fate: Fate; process: number };
  const recs: Rec[] = plan.map((p, i) => {
    const point = i * 100;
    const key = `k${p.key}`;
    const cur = state.get(p.key) ?? null;
    const applied = p.fate === 'ok' || p.fate === 'infoHappened';
    let input: RegisterInput;
    let output: unknown = 'ok';
    if (p.kind === 'read') {
      input = { f: 'read', key };
      output = cur;
    } else if (p.kind === 'write') {
      input = { f: 'write', key, value: p.to };
      if (applied) state.set(p.key, p.to);
    } else {
      input = { f: 'cas', key, from: p.from, to: p.to };
      output = cur === p.from;
      if (applied && cur === p.from) state.set(p.key, p.to);
    }
    return { input, output, call: point - p.a, ret: point + p.b, fate: p.fate, process: -1 };
  });
  const busyUntil: number[] = []; // per process: ret of its last op (Infinity once retired)
  for (const rec of [...recs].sort((x, y) => x.call - y.call)) {
    let proc = busyUntil.findIndex((t) => t < rec.call);
    if (proc === -1) proc = busyUntil.push(0) - 1;
    busyUntil[proc] = rec.fate === 'infoHappened' || rec.fate === 'infoNotHappened' ? Infinity : rec.ret;
    rec.process = proc;
  }
  type Ev = { time: number; order: number; run: (h: History) => void };
  const evs: Ev[] = [];
  recs.forEach((rec, i) => {
    evs.push({ time: rec.call, order: 2 * i, run: (h) => h.invoke(rec.process, rec.input.f, rec.input, rec.call) });
    evs.push({
      time: rec.ret, order: 2 * i + 1, run: (h) => {
        if (rec.fate === 'ok') h.ok(rec.process, rec.output, rec.ret);
        else if (rec.fate === 'fail') h.fail(rec.process, 'error', rec.ret);
        else h.info(rec.process, 'timeout', rec.ret);
      },
    });
  });
  evs.sort((x, y) => x.time - y.time || x.order - y.order);
  const h = new History();
  for (const ev of evs) ev.run(h);
  return h.toOperations() as Op[];
}

// A read with fate 'fail' that did not happen is fine to drop; 'fail' writes/cas are not applied.
const plans = fc.array(plannedOp, { minLength: 1, maxLength: 40 }).map((ps) =>
  ps.map((p) => (p.kind === 'read' && p.fate === 'infoNotHappened' ? { ...p, fate: 'infoHappened' as Fate } : p)),
);

test('property: histories of a real atomic execution are always ok', () => {
  fc.assert(
    fc.property(plans, (plan) => {
      const res = checkOperations(registerModel, recordExecution(plan));
      assert.deepEqual(res, { result: 'ok' });
    }),
    { numRuns: 300, seed: 0x5eed },
  );
});

test('property: changing one read to an impossible value is illegal', () => {
  fc.assert(
    fc.property(plans, fc.nat(), (plan, pick) => {
      const ops = recordExecution(plan);
      const reads = ops.map((o, i) => i).filter((i) => ops[i].f === 'read' && ops[i].ret !== INF);
      fc.pre(reads.length > 0);
      const i = reads[pick % reads.length];
      ops[i] = { ...ops[i], output: 'never-written' };
      const res = checkOperations(registerModel, ops);
      assert.equal(res.result, 'illegal');
      if (res.result === 'illegal') assert.ok(res.unlinearizable.length > 0);
    }),
    { numRuns: 300, seed: 0x5eed },
  );
});

// ---- performance sanity --------------------------------------------------------------------

/** 2,000 ops over 10 keys from 5 clients, each op atomic at a random point inside its interval. */
function bigHistory(seed: number): Op[] {
  let x = seed >>> 0;
  const rand = (n: number): number => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x % n;
  };
  const clients = 5;
  const clock = new Array<number>(clients).fill(0);
  const planned: { input: RegisterInput; call: number; ret: number; point: number; process: number }[] = [];
  for (let i = 0; i < 2000; i++) {
    const c = i % clients;
    const call = clock[c] + rand(5);
    const ret = call + 1 + rand(40);
    clock[c] = ret + 1;
    const key = `k${rand(10)}`;
    const kind = rand(3);
    const input: RegisterInput = kind === 0 ? { f: 'read', key } : kind === 1 ? { f: 'write', key, value: rand(4) } : { f: 'cas', key, from: rand(4), to: rand(4) };
    planned.push({ input, call, ret, point: call + rand(ret - call + 1), process: c });
  }
  const state = new Map<string, unknown>();
  const outputs = new Map<number, unknown>();
  [...planned.keys()].sort((a, b) => planned[a].point - planned[b].point || a - b).forEach((i) => {
    const { input } = planned[i];
    const cur = state.has(input.key as string) ? state.get(input.key as string) : null;
    if (input.f === 'read') outputs.set(i, cur);
    else if (input.f === 'write') { state.set(input.key as string, input.value); outputs.set(i, 'ok'); }
    else { outputs.set(i, cur === input.from); if (cur === input.from) state.set(input.key as string, input.to); }
  });
  return planned.map((p, i) => ({ process: p.process, f: p.input.f, input: p.input, output: outputs.get(i), call: p.call, ret: p.ret }));
}

test('performance: 2,000 ops over 10 keys with concurrency 5 take few steps', () => {
  for (const seed of [1, 2, 3]) {
    const ops = bigHistory(seed);
    const res = checkOperationsWithStats(registerModel, ops);
    assert.deepEqual(res.result, { result: 'ok' });
    assert.equal(res.parts, 10);
    assert.ok(res.steps < 5_000, `steps ${res.steps}`);
    // and a corrupted read is still found within budget
    const i = ops.findIndex((o) => o.f === 'read');
    ops[i] = { ...ops[i], output: 'never-written' };
    assert.equal(checkOperations(registerModel, ops, { maxSteps: 200_000 }).result, 'illegal');
  }
});

// ---- cross-check against brute force ---------------------------------------------------------

const randomOp = fc.record({
  kind: fc.constantFrom('read', 'write', 'cas'),
  call: fc.integer({ min: 0, max: 30 }),
  len: fc.integer({ min: 0, max: 15 }),
  v: fc.integer({ min: 0, max: 2 }),
  v2: fc.integer({ min: 0, max: 2 }),
  swapped: fc.boolean(),
  info: fc.integer({ min: 0, max: 5 }).map((x) => x === 0),
});

test('property: the search agrees with brute force on small random histories', () => {
  let illegal = 0;
  fc.assert(
    fc.property(fc.array(randomOp, { minLength: 1, maxLength: 7 }), (specs) => {
      const ops: Op[] = specs.map((s, i) => {
        const ret = s.info ? INF : s.call + s.len;
        const input: RegisterInput = s.kind === 'read' ? { f: 'read' } : s.kind === 'write' ? { f: 'write', value: s.v } : { f: 'cas', from: s.v, to: s.v2 };
        const output = s.kind === 'read' ? (s.v === 0 ? null : s.v) : s.kind === 'cas' ? s.swapped : 'ok';
        return { process: i, f: s.kind, input, output: s.info ? undefined : output, call: s.call, ret };
      });
      const expected = bruteForce(registerModel, ops);
      const res = checkOperations(registerModel, ops);
      if (!expected) illegal++;
      assert.equal(res.result, expected ? 'ok' : 'illegal');
    }),
    { numRuns: 500, seed: 0xb4e7 },
  );
  assert.ok(illegal > 50, `enough illegal cases generated (${illegal})`);
});

test('same-millisecond events: time clock is conservative, sequence clock is exact', () => {
  const h = new History();
  h.invoke(0, 'write', { f: 'write', value: 1 }, 5);
  h.ok(0, 'ok', 7);
  h.invoke(1, 'read', { f: 'read' }, 7); // invoked after the write's ack, in the same ms
  h.ok(1, null, 8);
  assert.equal(check(h.toOperations() as Op[]).result, 'ok');
  assert.equal(check(h.toOperations({ clock: 'sequence' }) as Op[]).result, 'illegal');
});

test('ops still open at the end may or may not have happened', () => {
  const h = new History();
  h.invoke(0, 'write', { f: 'write', value: 1 }, 0);
  h.invoke(1, 'read', { f: 'read' }, 1);
  h.ok(1, 1, 2);
  assert.equal(check(h.toOperations() as Op[]).result, 'ok');
  h.invoke(2, 'read', { f: 'read' }, 3);
  h.ok(2, null, 4);
  assert.equal(check(h.toOperations() as Op[]).result, 'illegal');
});
