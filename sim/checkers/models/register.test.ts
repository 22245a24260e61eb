import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeRegisterModel, registerModel } from './register.ts';
import { canonicalKey, partitionBy, sameValue } from './partition-by.ts';
import type { Operation } from '../../history.ts';

test('register step semantics (REG-1, REG-2)', () => {
  const m = registerModel;
  const s0 = m.init();
  assert.equal(m.step(s0, { f: 'read' }, null).ok, true);
  assert.equal(m.step(s0, { f: 'read' }, 0).ok, false);
  const s1 = m.step(s0, { f: 'write', value: { a: 1, b: [2] } }, 'ok').state;
  assert.equal(m.step(s1, { f: 'read' }, { b: [2], a: 1 }).ok, true, 'structural, key order ignored');
  assert.equal(m.step(s1, { f: 'cas', from: { a: 1, b: [2] }, to: 5 }, true).ok, true);
  assert.equal(m.step(s1, { f: 'cas', from: 4, to: 5 }, true).ok, false);
  assert.equal(m.step(s1, { f: 'cas', from: 4, to: 5 }, false).ok, true);
  assert.equal(m.step(s1, { f: 'cas', from: 4, to: 5 }, 'yes').ok, false, 'malformed cas output');
  assert.equal(m.step(s1, { f: 'cas', from: 4, to: 5 }, undefined).state, s1, 'info cas that cannot apply');
  assert.equal(m.step(s1, { f: 'bogus' } as never, 1).ok, false);
  assert.equal(m.step(s0, { f: 'write', key: 'a', value: 1 }, 'ok').state.size, 1);
  assert.equal(m.equal(s0, m.init()), true);
  const zero = makeRegisterModel(0);
  assert.equal(zero.step(zero.init(), { f: 'read' }, 0).ok, true, 'custom initial value');
  assert.equal(m.step(s1, { f: 'write', value: 1 }, undefined).ok, true, 'info write');
});

test('register partitions per key (REG-3, PART-1)', () => {
  const op = (key: string | number | undefined, i: number): Operation<any, unknown> => ({ process: i, f: 'read', input: { f: 'read', key }, output: null, call: i, ret: i + 1 });
  const ops = [op('a', 0), op(1, 1), op('a', 2), op('1', 3), op(undefined, 4)];
  const parts = registerModel.partition!(ops);
  assert.deepEqual(parts.map((p) => p.map((o) => o.process)), [[0, 2], [1], [3], [4]], 'number 1 and string "1" differ');
  assert.deepEqual(partitionBy([], () => 'x'), []);
  const unknownRead = { ...op('a', 9), output: undefined, ret: Infinity };
  assert.deepEqual(registerModel.partition!([unknownRead, op('a', 10)]).map((p) => p.map((o) => o.process)), [[10]], 'unknown reads omitted');
});

test('canonicalKey and sameValue (PART-2)', () => {
  assert.equal(canonicalKey({ b: 1, a: [1n, null] }), canonicalKey({ a: [1n, null], b: 1 }));
  assert.notEqual(canonicalKey(1), canonicalKey('1'));
  assert.notEqual(canonicalKey(1n), canonicalKey(1));
  assert.notEqual(canonicalKey(undefined), canonicalKey(null));
  assert.equal(sameValue(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
  assert.equal(sameValue(new Uint8Array([1, 2]), new Uint8Array([1, 3])), false);
  assert.equal(sameValue(NaN, NaN), true);
  let deep: unknown = 0;
  for (let i = 0; i < 100; i++) deep = [deep];
  assert.throws(() => canonicalKey(deep), /deeper/);
});
