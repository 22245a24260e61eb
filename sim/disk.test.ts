import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { DiskOp, DiskResult } from '../core/io.ts';
import { SimDisk, inProgressRun } from './disk.ts';
import { makeSimRng } from './rng.ts';

const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const ok = (d: SimDisk, op: DiskOp): DiskResult => {
  const r = d.execute(op);
  if (!r.ok) throw new Error(`expected ok for ${op.kind}, got ${r.error}`);
  return r.result;
};
const err = (d: SimDisk, op: DiskOp): string => {
  const r = d.execute(op);
  assert.equal(r.ok, false, `expected failure for ${op.kind}`);
  return r.ok ? '' : r.error;
};
const read = (d: SimDisk, file: string, offset = 0, length = 1 << 20): number[] => [
  ...ok(d, { kind: 'read', file, offset, length }).data!,
];
const fresh = (seed: number | string = 1) => new SimDisk(makeSimRng(seed));

test('write/read: creates file and parents, reads at most length, short at EOF', () => {
  const d = fresh();
  ok(d, { kind: 'write', file: 'a/b/c.log', offset: 0, data: bytes(1, 2, 3, 4) });
  assert.deepEqual(read(d, 'a/b/c.log'), [1, 2, 3, 4]);
  assert.deepEqual(read(d, 'a/b/c.log', 1, 2), [2, 3]);
  assert.deepEqual(read(d, 'a/b/c.log', 3, 10), [4]);
  assert.deepEqual(read(d, 'a/b/c.log', 9, 10), []);
  ok(d, { kind: 'write', file: 'a/b/c.log', offset: 6, data: bytes(9) });
  assert.deepEqual(read(d, 'a/b/c.log'), [1, 2, 3, 4, 0, 0, 9]);
  assert.equal(err(d, { kind: 'read', file: 'nope', offset: 0, length: 1 }), 'ENOENT');
  assert.deepEqual(d.files(), ['a/b/c.log']);
});

test('read returns a copy, write copies its input', () => {
  const d = fresh();
  const data = bytes(1, 2);
  ok(d, { kind: 'write', file: 'f', offset: 0, data });
  data[0] = 99;
  const got = ok(d, { kind: 'read', file: 'f', offset: 0, length: 2 }).data!;
  got[1] = 77;
  assert.deepEqual(read(d, 'f'), [1, 2]);
});

test('list: sorted entries with sizes, sub-directories marked, missing dir empty', () => {
  const d = fresh();
  ok(d, { kind: 'write', file: 'p/z', offset: 0, data: bytes(1) });
  ok(d, { kind: 'write', file: 'p/a', offset: 0, data: bytes(1, 2, 3) });
  ok(d, { kind: 'write', file: 'p/sub/x', offset: 0, data: bytes(1) });
  ok(d, { kind: 'write', file: 'top', offset: 0, data: bytes(1) });
  assert.deepEqual(ok(d, { kind: 'list', dir: 'p' }).entries, [
    { name: 'a', size: 3, dir: false },
    { name: 'sub', size: 0, dir: true },
    { name: 'z', size: 1, dir: false },
  ]);
  assert.deepEqual(ok(d, { kind: 'list', dir: '' }).entries, [
    { name: 'p', size: 0, dir: true },
    { name: 'top', size: 1, dir: false },
  ]);
  assert.deepEqual(ok(d, { kind: 'list', dir: 'missing' }).entries, []);
});

test('stat, truncate, allocate (extends with zeroes, never shrinks), rename, remove', () => {
  const d = fresh();
  assert.equal(ok(d, { kind: 'stat', file: 'f' }).size, -1);
  ok(d, { kind: 'write', file: 'f', offset: 0, data: bytes(1, 2, 3, 4, 5) });
  assert.equal(ok(d, { kind: 'stat', file: 'f' }).size, 5);
  ok(d, { kind: 'truncate', file: 'f', size: 2 });
  assert.deepEqual(read(d, 'f'), [1, 2]);
  ok(d, { kind: 'allocate', file: 'f', size: 6 });
  assert.deepEqual(read(d, 'f'), [1, 2, 0, 0, 0, 0]);
  ok(d, { kind: 'allocate', file: 'f', size: 3 });
  assert.equal(ok(d, { kind: 'stat', file: 'f' }).size, 6);
  ok(d, { kind: 'truncate', file: 'f', size: 1 });
  ok(d, { kind: 'truncate', file: 'f', size: 3 });
  assert.deepEqual(read(d, 'f'), [1, 0, 0], 'stale bytes must not reappear after shrink+grow');
  ok(d, { kind: 'allocate', file: 'new/g', size: 2 });
  assert.deepEqual(read(d, 'new/g'), [0, 0]);
  ok(d, { kind: 'rename', from: 'f', to: 'dir/f2' });
  assert.equal(ok(d, { kind: 'stat', file: 'f' }).size, -1);
  assert.deepEqual(read(d, 'dir/f2'), [1, 0, 0]);
  ok(d, { kind: 'write', file: 'x', offset: 0, data: bytes(7) });
  ok(d, { kind: 'rename', from: 'x', to: 'dir/f2' }); // replaces
  assert.deepEqual(read(d, 'dir/f2'), [7]);
  ok(d, { kind: 'remove', file: 'dir/f2' });
  assert.deepEqual(d.files(), ['new/g']);
  assert.equal(err(d, { kind: 'remove', file: 'dir/f2' }), 'ENOENT');
  assert.equal(err(d, { kind: 'rename', from: 'nope', to: 'y' }), 'ENOENT');
  assert.equal(err(d, { kind: 'truncate', file: 'nope', size: 0 }), 'ENOENT');
  assert.equal(err(d, { kind: 'sync', file: 'nope' }), 'ENOENT');
});

test('malformed paths and ranges are EINVAL, never throw', () => {
  const d = fresh();
  for (const file of ['', '/abs', 'a/../b', 'a//b', './a', 'a/']) {
    assert.equal(err(d, { kind: 'write', file, offset: 0, data: bytes(1) }), 'EINVAL', file);
  }
  assert.equal(err(d, { kind: 'write', file: 'f', offset: -1, data: bytes(1) }), 'EINVAL');
  assert.equal(err(d, { kind: 'write', file: 'f', offset: 1.5, data: bytes(1) }), 'EINVAL');
  assert.equal(err(d, { kind: 'write', file: 'f', offset: 1e12, data: bytes(1) }), 'EINVAL', 'runaway offset');
  assert.equal(err(d, { kind: 'allocate', file: 'f', size: 2 ** 40 }), 'EINVAL', 'runaway size');
  ok(d, { kind: 'write', file: 'f', offset: 0, data: bytes(1) });
  assert.equal(err(d, { kind: 'write', file: 'f/g', offset: 0, data: bytes(1) }), 'EINVAL', 'parent is a file');
  ok(d, { kind: 'write', file: 'dd/g', offset: 0, data: bytes(1) });
  assert.equal(err(d, { kind: 'write', file: 'dd', offset: 0, data: bytes(1) }), 'EINVAL', 'is a directory');
  assert.equal(err(d, { kind: 'read', file: 'f', offset: 0, length: -1 }), 'EINVAL');
  assert.equal(err(d, { kind: 'list', dir: '../x' }), 'EINVAL');
  assert.equal(err(d, { kind: 'rename', from: 'missing', to: '../b' }), 'EINVAL', 'malformed beats missing');
  assert.equal(err(d, { kind: 'bogus' } as unknown as DiskOp), 'EINVAL');
});

test('crash: unsynced writes lost, synced kept; file needs syncDir to survive', () => {
  const d = new SimDisk(makeSimRng(3), { tornWriteRate: 0 });
  ok(d, { kind: 'write', file: 'd/a', offset: 0, data: bytes(1, 2) });
  ok(d, { kind: 'sync', file: 'd/a' });
  ok(d, { kind: 'syncDir', dir: 'd' });
  ok(d, { kind: 'write', file: 'd/a', offset: 2, data: bytes(3) });
  ok(d, { kind: 'write', file: 'd/a', offset: 0, data: bytes(9) });
  d.crash();
  assert.deepEqual(read(d, 'd/a'), [1, 2]);
  // Created and synced but the directory never synced: vanishes when the journal is dropped.
  let vanished = 0;
  for (let seed = 0; seed < 20; seed++) {
    const e = new SimDisk(makeSimRng(seed), { tornWriteRate: 0 });
    ok(e, { kind: 'write', file: 'd/b', offset: 0, data: bytes(5) });
    ok(e, { kind: 'sync', file: 'd/b' });
    e.crash();
    if (e.files().length === 0) vanished++;
    else assert.deepEqual(read(e, 'd/b'), [5]);
  }
  assert.ok(vanished > 0 && vanished < 20, `vanished ${vanished}/20`);
  // Syncing another directory (here the parent) does not make d/b's entry durable.
  vanished = 0;
  for (let seed = 0; seed < 20; seed++) {
    const e = new SimDisk(makeSimRng(seed), { tornWriteRate: 0 });
    ok(e, { kind: 'write', file: 'd/b', offset: 0, data: bytes(5) });
    ok(e, { kind: 'sync', file: 'd/b' });
    ok(e, { kind: 'syncDir', dir: '' });
    e.crash();
    if (e.files().length === 0) vanished++;
  }
  assert.ok(vanished > 0, 'syncDir of another directory made the entry durable');
});

test('crash: rename and remove need syncDir; a rename is never split', () => {
  let outcomes = new Set<string>();
  for (let seed = 0; seed < 40; seed++) {
    const d = new SimDisk(makeSimRng(seed));
    ok(d, { kind: 'write', file: 'm.tmp', offset: 0, data: bytes(4) });
    ok(d, { kind: 'sync', file: 'm.tmp' });
    ok(d, { kind: 'syncDir', dir: '' });
    ok(d, { kind: 'rename', from: 'm.tmp', to: 'm' });
    d.crash();
    outcomes.add(d.files().join(','));
  }
  assert.deepEqual([...outcomes].sort(), ['m', 'm.tmp']);
  outcomes = new Set();
  for (let seed = 0; seed < 40; seed++) {
    const d = new SimDisk(makeSimRng(seed));
    ok(d, { kind: 'write', file: 'r', offset: 0, data: bytes(4) });
    ok(d, { kind: 'syncDir', dir: '.' });
    ok(d, { kind: 'remove', file: 'r' });
    d.crash();
    outcomes.add(d.files().join(','));
  }
  assert.deepEqual([...outcomes].sort(), ['', 'r']);
  const d = fresh();
  ok(d, { kind: 'write', file: 'r', offset: 0, data: bytes(4) });
  ok(d, { kind: 'syncDir', dir: '' });
  ok(d, { kind: 'remove', file: 'r' });
  ok(d, { kind: 'syncDir', dir: '' });
  d.crash();
  assert.deepEqual(d.files(), []);
});

test('failed sync discards unsynced writes (DISK-3); ENOSPC changes nothing', () => {
  const d = new SimDisk(makeSimRng(1));
  ok(d, { kind: 'write', file: 'f', offset: 0, data: bytes(1) });
  ok(d, { kind: 'sync', file: 'f' });
  ok(d, { kind: 'write', file: 'f', offset: 1, data: bytes(2) });
  d.setFaults({ syncFailRate: 1, enospcRate: 1 });
  assert.equal(err(d, { kind: 'sync', file: 'f' }), 'EIO');
  assert.equal(err(d, { kind: 'write', file: 'f', offset: 0, data: bytes(7) }), 'ENOSPC');
  assert.equal(err(d, { kind: 'allocate', file: 'f', size: 100 }), 'ENOSPC');
  d.setFaults({});
  assert.deepEqual(read(d, 'f'), [1]);
  ok(d, { kind: 'sync', file: 'f' });
  assert.deepEqual(d.peek('f'), bytes(1));
  assert.equal(d.durableFiles().size, 0, 'the name was never made durable by syncDir');
});

test('read faults: EIO and bit-rot in returned bytes only; lost and misdirected writes', () => {
  const d = new SimDisk(makeSimRng(2));
  ok(d, { kind: 'write', file: 'f', offset: 0, data: new Uint8Array(64).fill(5) });
  d.setFaults({ readErrorRate: 1 });
  assert.equal(err(d, { kind: 'read', file: 'f', offset: 0, length: 64 }), 'EIO');
  d.setFaults({ bitRotRate: 1 });
  const rotten = read(d, 'f');
  assert.equal(rotten.filter((b) => b !== 5).length, 1);
  d.setFaults({ lostWriteRate: 1 });
  ok(d, { kind: 'write', file: 'f', offset: 0, data: bytes(9) });
  d.setFaults({});
  assert.equal(read(d, 'f')[0], 5, 'lost write never landed');
  d.setFaults({ misdirectedWriteRate: 1 });
  ok(d, { kind: 'write', file: 'f', offset: 0, data: bytes(9) });
  d.setFaults({});
  const after = read(d, 'f');
  assert.equal(after[0], 5, 'misdirected write went elsewhere');
  assert.ok(after.includes(9));
});

test('corrupt flips durable bytes (and what reads see)', () => {
  const d = new SimDisk(makeSimRng(1), { tornWriteRate: 0 }); // the crash keeps exactly what was synced
  ok(d, { kind: 'write', file: 'f', offset: 0, data: new Uint8Array(8) });
  ok(d, { kind: 'sync', file: 'f' });
  ok(d, { kind: 'syncDir', dir: '' });
  ok(d, { kind: 'truncate', file: 'f', size: 2 }); // unsynced: the durable bytes live in undo
  d.corrupt('f', 1, 4);
  assert.deepEqual(read(d, 'f')[0], 0);
  assert.notEqual(read(d, 'f')[1], 0);
  const dur = d.durableFiles().get('f')!;
  assert.equal(dur.length, 8);
  assert.deepEqual([0, 5, 6, 7].map((i) => dur[i]), [0, 0, 0, 0]);
  for (const i of [1, 2, 3, 4]) assert.notEqual(dur[i], 0);
  d.crash();
  assert.deepEqual(read(d, 'f'), [...dur]);
});

test('latency: in range, sync slower, slowRate adds slowMs, deterministic', () => {
  const d = new SimDisk(makeSimRng(5), { latencyMs: { min: 1, max: 2 } });
  for (let i = 0; i < 100; i++) {
    const ms = d.latencyMs({ kind: 'read', file: 'f', offset: 0, length: 1 });
    assert.ok(ms >= 1 && ms <= 2);
  }
  assert.ok(d.latencyMs({ kind: 'sync', file: 'f' }) >= 3);
  d.setFaults({ latencyMs: { min: 0, max: 0 }, slowRate: 1, slowMs: 40 });
  assert.equal(d.latencyMs({ kind: 'stat', file: 'f' }), 40);
});

// ---------------------------------------------------------------------------------------------
// Property: a reference model of the volatile view, and DISK-1 / DISK-2 after a crash.

type Op =
  | { k: 'write'; f: number; offset: number; data: number[] }
  | { k: 'sync'; f: number }
  | { k: 'syncDir'; d: number }
  | { k: 'truncate'; f: number; size: number }
  | { k: 'allocate'; f: number; size: number }
  | { k: 'remove'; f: number };

const FILES = ['a', 'b', 'd/c', 'd/e'];
const DIR_OF = (f: string) => (f.includes('/') ? 'd' : '');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('write' as const), f: fc.nat(3), offset: fc.nat(40), data: fc.array(fc.integer({ min: 1, max: 255 }), { minLength: 1, maxLength: 12 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('sync' as const), f: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('syncDir' as const), d: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('truncate' as const), f: fc.nat(3), size: fc.nat(40) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('allocate' as const), f: fc.nat(3), size: fc.nat(60) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('remove' as const), f: fc.nat(3) }) },
);

interface ModelFile {
  live: number[];
  synced: number[];
  /** Changes since the last sync: writes (offset, len) and resizes (size). */
  pending: ({ offset: number; len: number } | { size: number })[];
}

test('property: contract behaviour matches a reference model; crash keeps DISK-1/DISK-2', () => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 40 }), fc.integer(), (ops, seed) => {
      const d = new SimDisk(makeSimRng(seed));
      const live = new Map<string, ModelFile>();
      // Per path, the set of (content source) states a crash may leave: durable entry + pending.
      const durableName = new Map<string, ModelFile | null>(); // after last syncDir
      const ever = new Set<ModelFile>();
      let dExists = false;
      for (const op of ops) {
        if (op.k === 'syncDir') {
          const dir = op.d === 0 ? '' : 'd';
          const r = d.execute({ kind: 'syncDir', dir });
          if (!r.ok) {
            assert.equal(r.error, 'ENOENT');
            assert.ok(dir === 'd' && !dExists);
            continue;
          }
          for (const f of FILES) if (DIR_OF(f) === dir) durableName.set(f, live.get(f) ?? null);
          continue;
        }
        const file = FILES[op.f];
        let m = live.get(file);
        if (op.k === 'write' || op.k === 'allocate') {
          if (!m) {
            m = { live: [], synced: [], pending: [] };
            live.set(file, m);
            ever.add(m);
            if (file.startsWith('d/')) dExists = true;
          }
        }
        if (!m) {
          if (op.k !== 'truncate' && op.k !== 'sync' && op.k !== 'remove') throw new Error('unreachable');
          const r = d.execute(op.k === 'truncate' ? { kind: 'truncate', file, size: op.size } : op.k === 'sync' ? { kind: 'sync', file } : { kind: 'remove', file });
          assert.equal(r.ok ? 'ok' : r.error, 'ENOENT');
          continue;
        }
        switch (op.k) {
          case 'write': {
            ok(d, { kind: 'write', file, offset: op.offset, data: Uint8Array.from(op.data) });
            while (m.live.length < op.offset) m.live.push(0);
            op.data.forEach((b, i) => (m!.live[op.offset + i] = b));
            m.pending.push({ offset: op.offset, len: op.data.length });
            break;
          }
          case 'sync':
            ok(d, { kind: 'sync', file });
            m.synced = [...m.live];
            m.pending = [];
            break;
          case 'truncate':
          case 'allocate':
            ok(d, { kind: op.k, file, size: op.size });
            if (op.k === 'truncate' ? op.size !== m.live.length : op.size > m.live.length) {
              m.live.length = Math.min(m.live.length, op.size);
              while (m.live.length < op.size) m.live.push(0);
              m.pending.push({ size: op.size });
            }
            break;
          case 'remove':
            ok(d, { kind: 'remove', file });
            live.delete(file);
            break;
        }
        if (op.k !== 'remove') assert.deepEqual(read(d, file), m.live);
      }
      assert.deepEqual(d.files(), [...live.keys()].sort());
      d.crash();
      for (const file of FILES) {
        const exists = d.files().includes(file);
        const dn = durableName.get(file);
        const pendingCandidates = [...ever]; // a pending create/remove may or may not apply
        if (!exists) {
          // Absent is fine if the durable name is absent, or a pending remove of it existed.
          if (dn) assert.ok(!live.has(file) || live.get(file) !== dn, `${file} vanished though durable`);
          continue;
        }
        const got = read(d, file);
        const candidates = dn ? [dn, ...pendingCandidates] : pendingCandidates;
        assert.ok(
          candidates.some((c) => matchesDurable(got, c)),
          `${file}: ${JSON.stringify(got)} is no allowed post-crash content`,
        );
      }
    }),
    { numRuns: 300 },
  );
});

/**
 * DISK-1: got is c.synced with any of the changes since then landed, in any combination: bytes
 * inside an unsynced write's range may be anything (whole, torn with garbage, scattered), bytes
 * at or past an unsynced resize's size may be zero, everything else is as synced.
 */
const matchesDurable = (got: number[], c: ModelFile): boolean => {
  const writes = c.pending.filter((p): p is { offset: number; len: number } => 'len' in p);
  const sizes = c.pending.filter((p): p is { size: number } => 'size' in p).map((p) => p.size);
  const maxLen = Math.max(c.synced.length, ...sizes, ...writes.map((w) => w.offset + w.len));
  const minLen = Math.min(c.synced.length, ...sizes);
  if (got.length > maxLen || got.length < minLen) return false;
  const minSize = Math.min(Infinity, ...sizes);
  for (let i = 0; i < got.length; i++) {
    if (writes.some((w) => i >= w.offset && i < w.offset + w.len)) continue;
    const was = c.synced[i] ?? 0;
    if (got[i] !== was && !(got[i] === 0 && i >= minSize)) return false;
  }
  return true;
};

test('same seed and ops give the same disk; different seeds may differ (DISK-4)', () => {
  const run = (seed: number): string => {
    const d = new SimDisk(makeSimRng(seed), { lostWriteRate: 0.1, misdirectedWriteRate: 0.1, bitRotRate: 0.1, syncFailRate: 0.1 });
    const out: string[] = [];
    for (let i = 0; i < 200; i++) {
      const file = `f${i % 3}`;
      d.execute({ kind: 'write', file, offset: (i * 7) % 50, data: Uint8Array.of(i & 255, 1, 2) });
      if (i % 5 === 0) d.execute({ kind: 'sync', file });
      if (i % 11 === 0) d.execute({ kind: 'syncDir', dir: '' });
      if (i % 50 === 49) d.crash();
      out.push(d.latencyMs({ kind: 'write', file, offset: 0, data: new Uint8Array(0) }).toFixed(6));
    }
    for (const f of d.files()) out.push(f, read(d, f).join('.'));
    return out.join('|');
  };
  assert.equal(run(11), run(11));
  assert.notEqual(run(11), run(12));
});

test('DISK-5: a durable write is synced when it completes; DISK-1: overlapped durable writes in progress land independently', () => {
  const d0 = fresh('dw');
  ok(d0, { kind: 'write', file: 'f', offset: 0, data: bytes(1, 2), sync: true });
  ok(d0, { kind: 'syncDir', dir: '' });
  d0.crash();
  assert.deepEqual(read(d0, 'f'), [1, 2], 'durable once completed');

  const w1: DiskOp = { kind: 'write', file: 'f', offset: 2, data: bytes(3, 3, 3, 3), sync: true };
  const w2: DiskOp = { kind: 'write', file: 'f', offset: 6, data: bytes(4, 4, 4, 4), sync: true };
  const other: DiskOp = { kind: 'sync', file: 'f' };
  assert.deepEqual(inProgressRun([w1, w2, other, w1]), [w1, w2], 'a run of durable writes to one file');
  assert.deepEqual(inProgressRun([other, w1]), [other]);
  assert.deepEqual(inProgressRun([w1, { ...w2, file: 'g' }]), [w1]);
  const w3: DiskOp = { kind: 'write', file: 'f', offset: 5, data: [bytes(5), bytes(5)], sync: true }; // 5..6: meets w2
  assert.deepEqual(inProgressRun([w1, w2, w3]), [w1, w2], 'a write intersecting one of the run waits for it');
  assert.deepEqual(inProgressRun([w1, { ...w2, offset: 5 }]), [w1], 'w1 covers 2..5');
  const seen = new Set<string>();
  for (let seed = 0; seed < 200; seed++) {
    const d = fresh(`dw-${seed}`);
    ok(d, { kind: 'write', file: 'f', offset: 0, data: bytes(1, 2), sync: true });
    ok(d, { kind: 'syncDir', dir: '' });
    d.crash([w1, w2]);
    const got = read(d, 'f');
    assert.deepEqual(got.slice(0, 2), [1, 2], 'completed data survives');
    assert.ok(got.length <= 10);
    const fate = (from: number, v: number): string => {
      const part = got.slice(from, from + 4);
      return part.length === 0 || part.every((x) => x === 0) ? 'lost' : part.length === 4 && part.every((x) => x === v) ? 'whole' : 'torn';
    };
    seen.add(`${fate(2, 3)}/${fate(6, 4)}`);
  }
  for (const combo of ['lost/whole', 'whole/lost', 'whole/whole', 'lost/lost']) assert.ok(seen.has(combo), `${combo} in ${[...seen]}`);
  assert.ok([...seen].some((c) => c.includes('torn')));
});

test('DISK-5: a durable write makes only its own bytes durable; the file\'s other unsynced changes stay unsynced', () => {
  const d = new SimDisk(makeSimRng(5), { tornWriteRate: 0 }); // a crash lands no unsynced change
  ok(d, { kind: 'write', file: 'f', offset: 0, data: bytes(1, 1, 1, 1) });
  ok(d, { kind: 'sync', file: 'f' });
  ok(d, { kind: 'syncDir', dir: '' });
  ok(d, { kind: 'write', file: 'f', offset: 0, data: bytes(7) }); // unsynced
  ok(d, { kind: 'write', file: 'f', offset: 2, data: bytes(8, 8, 8), sync: true }); // durable, grows the file
  ok(d, { kind: 'write', file: 'f', offset: 3, data: bytes(9) }); // unsynced, over the durable write
  assert.deepEqual(d.unsyncedFiles(''), ['f']);
  assert.deepEqual([...d.durableFiles().get('f')!], [1, 1, 8, 8, 8]);
  d.crash();
  assert.deepEqual(read(d, 'f'), [1, 1, 8, 8, 8], 'the durable write survives, the unsynced ones do not');
  // A failed sync drops the unsynced changes but keeps a durable write (DISK-3).
  const f = new SimDisk(makeSimRng(7));
  ok(f, { kind: 'write', file: 'h', offset: 0, data: bytes(1, 2) });
  ok(f, { kind: 'syncDir', dir: '' });
  ok(f, { kind: 'write', file: 'h', offset: 1, data: bytes(6), sync: true });
  ok(f, { kind: 'write', file: 'h', offset: 2, data: bytes(3) });
  f.setFaults({ syncFailRate: 1 });
  assert.equal(err(f, { kind: 'sync', file: 'h' }), 'EIO');
  assert.deepEqual(read(f, 'h'), [0, 6], 'the durable write kept (over the dropped write\'s zero-filled growth), the rest dropped');
  // Rot at rest of a durable write's bytes stays rotten through a crash.
  f.setFaults({});
  ok(f, { kind: 'write', file: 'h', offset: 0, data: bytes(9, 9) });
  ok(f, { kind: 'write', file: 'h', offset: 0, data: bytes(5, 5), sync: true });
  f.corrupt('h', 0, 1);
  const rotten = read(f, 'h')[0];
  assert.notEqual(rotten, 5);
  assert.equal(f.durableFiles().get('h')![0], rotten);
  // A failed durable write drops everything unsynced, itself too.
  const e = new SimDisk(makeSimRng(6), { syncFailRate: 1 });
  ok(e, { kind: 'write', file: 'g', offset: 0, data: bytes(1, 2) });
  ok(e, { kind: 'write', file: 'g', offset: 4, data: bytes(3) });
  assert.equal(err(e, { kind: 'write', file: 'g', offset: 2, data: bytes(5), sync: true }), 'EIO', 'a failed durable write');
  assert.deepEqual(read(e, 'g'), [], 'everything unsynced dropped, the failed write too');
});

test('DISK-1: unsynced writes land in any combination: a later one without an earlier, a write in scattered sectors', () => {
  let laterOnly = false;
  let middleOnly = false;
  for (let seed = 0; seed < 400 && !(laterOnly && middleOnly); seed++) {
    const d = fresh(`any-${seed}`);
    ok(d, { kind: 'write', file: 'f', offset: 0, data: new Uint8Array(4).fill(9) });
    ok(d, { kind: 'sync', file: 'f' });
    ok(d, { kind: 'syncDir', dir: '' });
    ok(d, { kind: 'write', file: 'f', offset: 0, data: new Uint8Array(512).fill(1) });
    ok(d, { kind: 'write', file: 'f', offset: 512, data: new Uint8Array(1536).fill(2) });
    d.crash();
    const got = read(d, 'f');
    if (got[0] === 9 && got[512] === 2) laterOnly = true;
    if (got.length === 2048 && got[1024] === 2 && got[512] !== 2 && got[1535] === 2) middleOnly = true;
  }
  assert.ok(laterOnly, 'some crash kept the second write and not the first');
  assert.ok(middleOnly, 'some crash kept a middle sector of a write without its first');
});
