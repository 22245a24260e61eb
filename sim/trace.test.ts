import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Trace, TraceHasher } from './trace.ts';

const hashOf = (v: unknown): string => {
  const h = new TraceHasher();
  h.value(v);
  return h.digest();
};

test('value hashing: equal structures equal, any difference differs', () => {
  const a = { x: 1, y: [1.5, 'ab', null, undefined, true], z: Uint8Array.of(1, 2, 3, 4, 5), m: new Map([[1, 'q']]), s: new Set([2n]) };
  const b = { x: 1, y: [1.5, 'ab', null, undefined, true], z: Uint8Array.of(1, 2, 3, 4, 5), m: new Map([[1, 'q']]), s: new Set([2n]) };
  assert.equal(hashOf(a), hashOf(b));
  const variants: unknown[] = [
    { ...b, x: 2 },
    { ...b, z: Uint8Array.of(1, 2, 3, 4, 6) },
    { ...b, z: Uint8Array.of(1, 2, 3, 4) },
    { ...b, y: [1.5, 'ba', null, undefined, true] },
    { ...b, m: new Map([[1, 'r']]) },
    { ...b, s: new Set([3n]) },
  ];
  const hashes = new Set([hashOf(a), ...variants.map(hashOf)]);
  assert.equal(hashes.size, variants.length + 1);
  assert.notEqual(hashOf('ab'), hashOf(['a', 'b']));
  assert.notEqual(hashOf(1), hashOf('1'));
  assert.notEqual(hashOf(0), hashOf(-0.5));
  assert.match(hashOf(1), /^[0-9a-f]{16}$/);
});

test('Trace: inputs, replies and events all count; modes', () => {
  const run = (mode: 'full' | 'shallow', payload: number) => {
    const t = new Trace(mode);
    t.input(1, 0, { tag: 'Start', now: 0, wall: 5, seed: 7 });
    t.input(2.5, 1, { tag: 'Message', now: 2, wall: 7, from: 0, message: { p: payload } });
    t.input(3, 1, { tag: 'DiskDone', now: 3, wall: 8, id: 1, op: 'read', result: { data: Uint8Array.of(9) } });
    t.reply(4, 3, 1, { ok: payload });
    t.event(5, 'crash', 1);
    return t;
  };
  assert.equal(run('full', 1).hash(), run('full', 1).hash());
  assert.notEqual(run('full', 1).hash(), run('full', 2).hash());
  assert.equal(run('shallow', 1).hash(), run('shallow', 2).hash());
  assert.equal(run('full', 1).count(), 5);
  const off = new Trace('off');
  off.event(1, 'x');
  assert.equal(off.count(), 0);
});

test('aligned and unaligned byte views hash alike (TRACE-2)', () => {
  const backing = new Uint8Array(64);
  for (let i = 0; i < 64; i++) backing[i] = (i * 37) & 255;
  const aligned = backing.slice(1, 40); // fresh buffer, offset 0
  const unaligned = backing.subarray(1, 40); // byteOffset 1
  assert.equal(hashOf(aligned), hashOf(unaligned));
});
