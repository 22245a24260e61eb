import { test } from 'node:test';
import assert from 'node:assert/strict';
import { History, successorProcess } from './history.ts';

test('pairs invokes with completions in invoke order', () => {
  const h = new History();
  h.invoke(0, 'write', { f: 'write', value: 1 }, 0);
  h.invoke(1, 'read', { f: 'read' }, 1);
  h.ok(1, 1, 5);
  h.ok(0, 'ok', 6);
  assert.deepEqual(h.toOperations(), [
    { process: 0, f: 'write', input: { f: 'write', value: 1 }, output: 'ok', call: 0, ret: 6 },
    { process: 1, f: 'read', input: { f: 'read' }, output: 1, call: 1, ret: 5 },
  ]);
  assert.equal(h.events().length, 4);
  assert.equal(h.events()[3].f, 'write', 'completions carry the f of their invoke');
});

test('fail ops are dropped; info and open ops return at Infinity with unknown output', () => {
  const h = new History();
  h.invoke(0, 'write', 'a', 0);
  h.fail(0, 'NOT_CONTROLLER', 1);
  h.invoke(0, 'write', 'b', 2);
  h.info(0, 'timeout', 3);
  h.invoke(1, 'read', null, 4);
  const ops = h.toOperations();
  assert.deepEqual(ops, [
    { process: 0, f: 'write', input: 'b', output: undefined, call: 2, ret: Infinity },
    { process: 1, f: 'read', input: null, output: undefined, call: 4, ret: Infinity },
  ]);
  assert.equal(h.isRetired(0), true);
  assert.equal(h.isOpen(1), true);
});

test('sequence clock orders events that share a millisecond', () => {
  const h = new History();
  h.invoke(0, 'write', 1, 5);
  h.ok(0, null, 5);
  h.invoke(1, 'read', null, 5);
  h.ok(1, 1, 5);
  const ops = h.toOperations({ clock: 'sequence' });
  assert.deepEqual(ops.map((o) => [o.call, o.ret]), [[0, 1], [2, 3]]);
});

test('HIST-1/2/3: misuse throws', () => {
  const h = new History();
  h.invoke(0, 'read', null, 10);
  assert.throws(() => h.invoke(0, 'read', null, 11), /HIST-1/);
  assert.throws(() => h.ok(1, null, 11), /HIST-1/);
  assert.throws(() => h.ok(0, null, 9), /HIST-3/);
  assert.throws(() => h.ok(0, null, NaN), /HIST-3/);
  h.info(0, null, 12);
  assert.throws(() => h.invoke(0, 'read', null, 13), /HIST-2/);
  assert.throws(() => h.invoke(-1, 'read', null, 13), /process/);
});

test('fromEvents round-trips', () => {
  const h = new History();
  h.invoke(3, 'cas', { f: 'cas', from: 1, to: 2 }, 0);
  h.ok(3, true, 4);
  h.invoke(4, 'read', { f: 'read' }, 4);
  h.info(4, 'reset', 9);
  const again = History.fromEvents(h.events());
  assert.deepEqual(again.events(), h.events());
  assert.deepEqual(again.toOperations(), h.toOperations());
});

test('successorProcess keeps the client id as process % clients', () => {
  assert.equal(successorProcess(2, 5), 7);
  assert.equal(successorProcess(7, 5) % 5, 2);
  assert.throws(() => successorProcess(1, 0), /client count/);
});
