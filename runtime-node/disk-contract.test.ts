// The disk contract of core/io.ts, checked against both drivers: every sequence below runs on
// FileDisk (a fresh temp directory) and on SimDisk without faults;
// each step's outcome must equal the expected one, so the two drivers agree op by op.
// FileDisk-only checks follow: durability calls, handle lifetime, path confinement (FDISK-2).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat as fsStat, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DiskOp } from '../core/io.ts';
import { FileDisk, type DiskInput, type DiskOutcome } from './file-disk.ts';
import { makeSimRng } from '../sim/rng.ts';
import { SimDisk } from '../sim/disk.ts';

const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const ok = (result: object = {}): DiskOutcome => ({ ok: true, result });
const fail = (error: 'EIO' | 'ENOSPC' | 'ENOENT' | 'EINVAL'): DiskOutcome => ({ ok: false, error });

type Step = readonly [DiskOp, DiskOutcome];
interface Case {
  readonly name: string;
  readonly steps: readonly Step[];
}

const cases: readonly Case[] = [
  {
    name: 'a failed rename (missing source) changes nothing: no target directory appears',
    steps: [
      [{ kind: 'rename', from: 'ghost', to: 'newdir/x' }, fail('ENOENT')],
      [{ kind: 'list', dir: '' }, ok({ entries: [] })],
    ],
  },
  {
    name: 'stat is of files: a directory, or a path under a file, does not exist',
    steps: [
      [{ kind: 'write', file: 'd/f', offset: 0, data: bytes(1) }, ok()],
      [{ kind: 'stat', file: 'd' }, ok({ size: -1 })],
      [{ kind: 'stat', file: 'd/f/x' }, ok({ size: -1 })],
      [{ kind: 'read', file: 'd/f/x', offset: 0, length: 1 }, fail('ENOENT')],
      [{ kind: 'list', dir: 'd/f' }, ok({ entries: [] })],
    ],
  },
  {
    name: 'write then read back, short read at end of file',
    steps: [
      [{ kind: 'write', file: 'a/b/seg.log', offset: 0, data: bytes(1, 2, 3, 4) }, ok()],
      [{ kind: 'read', file: 'a/b/seg.log', offset: 1, length: 2 }, ok({ data: bytes(2, 3) })],
      [{ kind: 'read', file: 'a/b/seg.log', offset: 2, length: 10 }, ok({ data: bytes(3, 4) })],
      [{ kind: 'read', file: 'a/b/seg.log', offset: 9, length: 3 }, ok({ data: bytes() })],
      [{ kind: 'sync', file: 'a/b/seg.log' }, ok()],
      [{ kind: 'syncDir', dir: 'a/b' }, ok()],
    ],
  },
  {
    name: 'durable writes (write with sync) land back to back and read back',
    steps: [
      [{ kind: 'write', file: 'd/seg.log', offset: 0, data: bytes(1, 2), sync: true }, ok()],
      [{ kind: 'write', file: 'd/seg.log', offset: 2, data: [bytes(3), bytes(4, 5)], sync: true }, ok()],
      [{ kind: 'write', file: 'd/seg.log', offset: 5, data: bytes(6), sync: true }, ok()],
      [{ kind: 'read', file: 'd/seg.log', offset: 0, length: 9 }, ok({ data: bytes(1, 2, 3, 4, 5, 6) })],
      [{ kind: 'write', file: 'd/seg.log', offset: 0, data: bytes(), sync: true }, ok()],
      [{ kind: 'write', file: 'd/seg.log', offset: -1, data: bytes(1), sync: true }, fail('EINVAL')],
    ],
  },
  {
    name: 'write past the end leaves a zero gap; overwrite in place',
    steps: [
      [{ kind: 'write', file: 'f', offset: 3, data: bytes(9) }, ok()],
      [{ kind: 'write', file: 'f', offset: 0, data: bytes(7) }, ok()],
      [{ kind: 'read', file: 'f', offset: 0, length: 8 }, ok({ data: bytes(7, 0, 0, 9) })],
      [{ kind: 'stat', file: 'f' }, ok({ size: 4 })],
    ],
  },
  {
    name: 'write of a subarray view writes only the view',
    steps: [
      [{ kind: 'write', file: 'v', offset: 0, data: bytes(1, 2, 3, 4, 5).subarray(1, 3) }, ok()],
      [{ kind: 'read', file: 'v', offset: 0, length: 5 }, ok({ data: bytes(2, 3) })],
    ],
  },
  {
    name: 'a gathered write lands its chunks back to back (views, an empty chunk, a gap before it)',
    steps: [
      [{ kind: 'write', file: 'g', offset: 2, data: [bytes(1, 2), bytes(9, 3, 4, 9).subarray(1, 3), bytes(), bytes(5)] }, ok()],
      [{ kind: 'read', file: 'g', offset: 0, length: 10 }, ok({ data: bytes(0, 0, 1, 2, 3, 4, 5) })],
      [{ kind: 'write', file: 'g', offset: 1, data: [bytes(7)] }, ok()],
      [{ kind: 'sync', file: 'g' }, ok()],
      [{ kind: 'read', file: 'g', offset: 0, length: 3 }, ok({ data: bytes(0, 7, 1) })],
    ],
  },
  {
    name: 'a gathered write of more chunks than one pwritev takes (IOV_MAX)',
    steps: [
      [{ kind: 'write', file: 'iov', offset: 0, data: Array.from({ length: 2500 }, (_, i) => bytes(i & 0xff)) }, ok()],
      [{ kind: 'read', file: 'iov', offset: 1020, length: 8 }, ok({ data: bytes(252, 253, 254, 255, 0, 1, 2, 3) })],
      [{ kind: 'stat', file: 'iov' }, ok({ size: 2500 })],
    ],
  },
  {
    name: 'a gathered write with a non-array chunk is EINVAL',
    steps: [[{ kind: 'write', file: 'bad', offset: 0, data: [bytes(1), 'x' as unknown as Uint8Array] }, fail('EINVAL')]],
  },
  {
    name: 'allocate extends with zeroes and never shrinks',
    steps: [
      [{ kind: 'write', file: 'p', offset: 0, data: bytes(5, 6) }, ok()],
      [{ kind: 'allocate', file: 'p', size: 6 }, ok()],
      [{ kind: 'stat', file: 'p' }, ok({ size: 6 })],
      [{ kind: 'read', file: 'p', offset: 0, length: 6 }, ok({ data: bytes(5, 6, 0, 0, 0, 0) })],
      [{ kind: 'allocate', file: 'p', size: 3 }, ok()],
      [{ kind: 'stat', file: 'p' }, ok({ size: 6 })],
      [{ kind: 'write', file: 'p', offset: 2, data: bytes(8) }, ok()],
      [{ kind: 'read', file: 'p', offset: 0, length: 6 }, ok({ data: bytes(5, 6, 8, 0, 0, 0) })],
    ],
  },
  {
    name: 'truncate shrinks and grows',
    steps: [
      [{ kind: 'write', file: 't', offset: 0, data: bytes(1, 2, 3, 4) }, ok()],
      [{ kind: 'truncate', file: 't', size: 2 }, ok()],
      [{ kind: 'read', file: 't', offset: 0, length: 4 }, ok({ data: bytes(1, 2) })],
      [{ kind: 'truncate', file: 't', size: 3 }, ok()],
      [{ kind: 'read', file: 't', offset: 0, length: 4 }, ok({ data: bytes(1, 2, 0) })],
    ],
  },
  {
    name: 'list: sorted names, sizes, directories; missing directory lists empty',
    steps: [
      [{ kind: 'write', file: 'd/b.log', offset: 0, data: bytes(1, 2, 3) }, ok()],
      [{ kind: 'write', file: 'd/a.idx', offset: 0, data: bytes(1) }, ok()],
      [{ kind: 'write', file: 'd/sub/x', offset: 0, data: bytes(1) }, ok()],
      [
        { kind: 'list', dir: 'd' },
        ok({
          entries: [
            { name: 'a.idx', size: 1, dir: false },
            { name: 'b.log', size: 3, dir: false },
            { name: 'sub', size: 0, dir: true },
          ],
        }),
      ],
      [{ kind: 'list', dir: 'nope' }, ok({ entries: [] })],
    ],
  },
  {
    name: 'rename moves contents; the old name is gone',
    steps: [
      [{ kind: 'write', file: 'x.tmp', offset: 0, data: bytes(4, 2) }, ok()],
      [{ kind: 'rename', from: 'x.tmp', to: 'x' }, ok()],
      [{ kind: 'stat', file: 'x.tmp' }, ok({ size: -1 })],
      [{ kind: 'read', file: 'x', offset: 0, length: 9 }, ok({ data: bytes(4, 2) })],
      [{ kind: 'write', file: 'x', offset: 2, data: bytes(7) }, ok()],
      [{ kind: 'read', file: 'x', offset: 0, length: 9 }, ok({ data: bytes(4, 2, 7) })],
    ],
  },
  {
    name: 'rename replaces an existing target',
    steps: [
      [{ kind: 'write', file: 'old', offset: 0, data: bytes(1, 1, 1) }, ok()],
      [{ kind: 'write', file: 'new', offset: 0, data: bytes(2) }, ok()],
      [{ kind: 'read', file: 'old', offset: 0, length: 1 }, ok({ data: bytes(1) })],
      [{ kind: 'rename', from: 'new', to: 'old' }, ok()],
      [{ kind: 'read', file: 'old', offset: 0, length: 9 }, ok({ data: bytes(2) })],
      [{ kind: 'list', dir: '' }, ok({ entries: [{ name: 'old', size: 1, dir: false }] })],
    ],
  },
  {
    name: 'remove deletes; later reads fail with ENOENT',
    steps: [
      [{ kind: 'write', file: 'r', offset: 0, data: bytes(1) }, ok()],
      [{ kind: 'remove', file: 'r' }, ok()],
      [{ kind: 'stat', file: 'r' }, ok({ size: -1 })],
      [{ kind: 'read', file: 'r', offset: 0, length: 1 }, fail('ENOENT')],
    ],
  },
  {
    name: 'missing files',
    steps: [
      [{ kind: 'stat', file: 'ghost' }, ok({ size: -1 })],
      [{ kind: 'read', file: 'ghost', offset: 0, length: 1 }, fail('ENOENT')],
      [{ kind: 'sync', file: 'ghost' }, fail('ENOENT')],
      [{ kind: 'truncate', file: 'ghost', size: 0 }, fail('ENOENT')],
      [{ kind: 'rename', from: 'ghost', to: 'g2' }, fail('ENOENT')],
      [{ kind: 'remove', file: 'ghost' }, fail('ENOENT')],
    ],
  },
  {
    name: 'allocate creates a missing file; rename into a new directory; zero-length read',
    steps: [
      [{ kind: 'allocate', file: 'n/new.log', size: 3 }, ok()],
      [{ kind: 'read', file: 'n/new.log', offset: 0, length: 0 }, ok({ data: bytes() })],
      [{ kind: 'rename', from: 'n/new.log', to: 'm/k/moved.log' }, ok()],
      [{ kind: 'read', file: 'm/k/moved.log', offset: 0, length: 9 }, ok({ data: bytes(0, 0, 0) })],
      [{ kind: 'list', dir: 'm' }, ok({ entries: [{ name: 'k', size: 0, dir: true }] })],
      [{ kind: 'list', dir: 'n' }, ok({ entries: [] })],
      [{ kind: 'syncDir', dir: 'm/k' }, ok()],
    ],
  },
  {
    name: 'a file where a directory is expected is EINVAL',
    steps: [
      [{ kind: 'write', file: 'plain', offset: 0, data: bytes(1) }, ok()],
      [{ kind: 'write', file: 'plain/child', offset: 0, data: bytes(1) }, fail('EINVAL')],
      [{ kind: 'read', file: 'plain', offset: 0, length: 4 }, ok({ data: bytes(1) })],
    ],
  },
  {
    name: 'bad paths are EINVAL',
    steps: [
      [{ kind: 'write', file: '../escape', offset: 0, data: bytes(1) }, fail('EINVAL')],
      [{ kind: 'write', file: 'a/../../escape', offset: 0, data: bytes(1) }, fail('EINVAL')],
      [{ kind: 'write', file: '/etc/passwd', offset: 0, data: bytes(1) }, fail('EINVAL')],
      [{ kind: 'read', file: '..', offset: 0, length: 1 }, fail('EINVAL')],
      [{ kind: 'list', dir: '../' }, fail('EINVAL')],
      [{ kind: 'rename', from: 'a', to: '../b' }, fail('EINVAL')],
    ],
  },
];

/** A driver under test: runs one op, returns its outcome. */
type Runner = { execute(op: DiskOp): Promise<DiskOutcome>; close(): Promise<void> };

const withTempDir = async <T>(body: (dir: string) => Promise<T>): Promise<T> => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-disk-'));
  try {
    return await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

const runCase = async (c: Case, disk: Runner, driver: string): Promise<void> => {
  for (const [i, [op, expected]] of c.steps.entries()) {
    const got = await disk.execute(op);
    assert.deepEqual(normalize(got), normalize(expected), `${driver} '${c.name}' step ${i} (${op.kind})`);
  }
};

/** Compares data as plain arrays so a subarray view equals a fresh array of the same bytes. */
const normalize = (o: DiskOutcome): unknown =>
  o.ok ? { ok: true, result: { ...o.result, ...(o.result.data ? { data: [...o.result.data] } : {}) } } : o;

for (const c of cases) {
  test(`contract (FileDisk): ${c.name}`, () =>
    withTempDir(async (dir) => {
      const disk = new FileDisk(dir);
      try {
        await runCase(c, disk, 'FileDisk');
      } finally {
        await disk.close();
      }
    }));
}

for (const c of cases) {
  test(`contract (SimDisk): ${c.name}`, async () => {
    assert.equal(typeof SimDisk, 'function', 'sim/disk.ts exports SimDisk');
    const d = new SimDisk(makeSimRng(1)); // no faults configured
    await runCase(c, { execute: async (op) => d.execute(op), close: async () => {} }, 'SimDisk');
  });
}

// ---------------------------------------------------------------------------------------------
// FileDisk only

test('FileDisk: completions arrive in submission order with stamps (FDISK-1)', () =>
  withTempDir(async (dir) => {
    const disk = new FileDisk(dir, { stamp: () => ({ now: 5, wall: 7 }) });
    const seen: number[] = [];
    const all = new Promise<void>((resolve) => {
      for (let id = 0; id < 50; id++) {
        const op: DiskOp =
          id % 3 === 0
            ? { kind: 'write', file: `f${id % 4}`, offset: id, data: bytes(id) }
            : id % 3 === 1
              ? { kind: 'stat', file: 'f0' }
              : { kind: 'list', dir: '' };
        disk.submit(id, op, (input) => {
          assert.equal(input.tag, 'DiskDone');
          assert.equal(input.op, op.kind);
          assert.equal(input.now, 5);
          assert.equal(input.wall, 7);
          seen.push(input.id);
          if (seen.length === 50) resolve();
        });
      }
    });
    await all;
    assert.deepEqual(seen, [...Array(50).keys()]);
    await disk.close();
  }));

test('FileDisk: an op submitted after close() fails, after the ops queued before it (FDISK-1)', () =>
  withTempDir(async (dir) => {
    const disk = new FileDisk(dir);
    const order: number[] = [];
    const outcomes: string[] = [];
    await new Promise<void>((resolve) => {
      const done = (i: DiskInput): void => {
        order.push(i.id);
        outcomes.push(i.tag);
        if (order.length === 3) resolve();
      };
      disk.submit(1, { kind: 'write', file: 'a', offset: 0, data: new Uint8Array(1 << 20) }, done);
      disk.submit(2, { kind: 'sync', file: 'a' }, done);
      void disk.close();
      disk.submit(3, { kind: 'stat', file: 'a' }, done);
    });
    assert.deepEqual(order, [1, 2, 3]);
    assert.deepEqual(outcomes, ['DiskDone', 'DiskDone', 'DiskFailed']);
  }));

test('FileDisk: sync and syncDir succeed; data reaches the file', () =>
  withTempDir(async (dir) => {
    const disk = new FileDisk(dir);
    assert.deepEqual(await disk.execute({ kind: 'write', file: 'p/0.log', offset: 0, data: bytes(1, 2) }), ok());
    assert.deepEqual(await disk.execute({ kind: 'sync', file: 'p/0.log' }), ok());
    assert.deepEqual(await disk.execute({ kind: 'syncDir', dir: 'p' }), ok());
    assert.deepEqual(await disk.execute({ kind: 'syncDir', dir: '' }), ok());
    assert.deepEqual(await disk.execute({ kind: 'syncDir', dir: 'nope' }), fail('ENOENT'));
    assert.deepEqual([...(await readFile(join(dir, 'p/0.log')))], [1, 2]);
    await disk.close();
  }));

test('FileDisk: allocate writes real zeroes (not sparse)', () =>
  withTempDir(async (dir) => {
    const disk = new FileDisk(dir);
    const size = 3 * (1 << 20) + 5;
    assert.deepEqual(await disk.execute({ kind: 'allocate', file: 'big', size }), ok());
    const s = await fsStat(join(dir, 'big'));
    assert.equal(s.size, size);
    assert.ok(s.blocks * 512 >= size, `allocated blocks ${s.blocks * 512} cover ${size}`);
    await disk.close();
  }));

test('FileDisk: handle cache is bounded and closed on shutdown (FDISK-5, FDISK-6)', () =>
  withTempDir(async (dir) => {
    const disk = new FileDisk(dir, { maxOpenFiles: 3 });
    for (let i = 0; i < 10; i++) await disk.execute({ kind: 'write', file: `f${i}`, offset: 0, data: bytes(i) });
    assert.equal(disk.openHandles, 3);
    // an evicted handle is reopened transparently
    assert.deepEqual(await disk.execute({ kind: 'read', file: 'f0', offset: 0, length: 1 }), ok({ data: bytes(0) }));
    const pending = disk.execute({ kind: 'write', file: 'late', offset: 0, data: bytes(1) });
    await Promise.all([disk.close(), disk.close()]);
    assert.deepEqual(await pending, ok(), 'queued op finishes before close');
    assert.equal(disk.openHandles, 0);
    assert.deepEqual(await disk.execute({ kind: 'stat', file: 'f0' }), fail('EIO'), 'closed disk refuses');
  }));

test('FileDisk: remove closes the cached handle; a directory is not removed', () =>
  withTempDir(async (dir) => {
    const disk = new FileDisk(dir);
    await disk.execute({ kind: 'write', file: 'topic-0/0.log', offset: 0, data: bytes(1) });
    assert.equal(disk.openHandles, 1);
    assert.equal((await disk.execute({ kind: 'remove', file: 'topic-0' })).ok, false);
    assert.deepEqual(await disk.execute({ kind: 'remove', file: 'topic-0/0.log' }), ok());
    assert.equal(disk.openHandles, 0);
    assert.deepEqual(await disk.execute({ kind: 'list', dir: '' }), ok({ entries: [{ name: 'topic-0', size: 0, dir: true }] }));
    await disk.close();
  }));

test('FileDisk: bad arguments are EINVAL, never thrown', () =>
  withTempDir(async (dir) => {
    const disk = new FileDisk(dir);
    assert.deepEqual(await disk.execute({ kind: 'write', file: 'a', offset: -1, data: bytes(1) }), fail('EINVAL'));
    assert.deepEqual(await disk.execute({ kind: 'read', file: 'a', offset: 0.5, length: 1 }), fail('EINVAL'));
    assert.deepEqual(await disk.execute({ kind: 'write', file: 'a//b', offset: 0, data: bytes(1) }), fail('EINVAL'));
    assert.deepEqual(await disk.execute({ kind: 'write', file: 'a\0b', offset: 0, data: bytes(1) }), fail('EINVAL'));
    assert.deepEqual(await disk.execute({ kind: 'bogus' } as unknown as DiskOp), fail('EINVAL'));
    assert.equal(existsSync(join(dir, '..', 'escape')), false);
    await disk.close();
  }));

test('FileDisk: allocate of an empty file uses a background-zeroed spare (FDISK-7)', () =>
  withTempDir(async (dir) => {
    const disk = new FileDisk(dir);
    const size = 2 * (1 << 20);
    assert.deepEqual(await disk.execute({ kind: 'allocate', file: 'p/0.log', size }), ok());
    assert.deepEqual(disk.allocations, { fromSpare: 0, inline: 1 });
    await disk.sparesSettled();
    // the log's segment creation: a zero prefix, truncate to 0, allocate, sync, syncDir
    assert.deepEqual(await disk.execute({ kind: 'write', file: 'p/1.log', offset: 0, data: new Uint8Array(12) }), ok());
    assert.deepEqual(await disk.execute({ kind: 'truncate', file: 'p/1.log', size: 0 }), ok());
    assert.deepEqual(await disk.execute({ kind: 'allocate', file: 'p/1.log', size }), ok());
    assert.deepEqual(disk.allocations, { fromSpare: 1, inline: 1 });
    assert.deepEqual(await disk.execute({ kind: 'write', file: 'p/1.log', offset: 5, data: bytes(9) }), ok());
    assert.deepEqual(await disk.execute({ kind: 'sync', file: 'p/1.log' }), ok());
    const head = await disk.execute({ kind: 'read', file: 'p/1.log', offset: 0, length: 8 });
    assert.deepEqual(head, ok({ data: bytes(0, 0, 0, 0, 0, 9, 0, 0) }));
    assert.equal((await fsStat(join(dir, 'p/1.log'))).size, size);
    assert.deepEqual(await disk.execute({ kind: 'stat', file: 'p/1.log' }), ok({ size }));
    assert.deepEqual(await disk.execute({ kind: 'list', dir: '' }), ok({ entries: [{ name: 'p', size: 0, dir: true }] }), 'spare dir hidden');
    assert.deepEqual(await disk.execute({ kind: 'read', file: '.cairn-spare/spare-1', offset: 0, length: 1 }), fail('EINVAL'));
    // a non-empty file is extended inline, never replaced
    assert.deepEqual(await disk.execute({ kind: 'write', file: 'p/2.log', offset: 0, data: bytes(3) }), ok());
    await disk.sparesSettled();
    assert.deepEqual(await disk.execute({ kind: 'allocate', file: 'p/2.log', size }), ok());
    assert.deepEqual(await disk.execute({ kind: 'read', file: 'p/2.log', offset: 0, length: 2 }), ok({ data: bytes(3, 0) }));
    assert.deepEqual(disk.allocations, { fromSpare: 1, inline: 2 });
    await disk.close();
    assert.equal(existsSync(join(dir, '.cairn-spare')), false, 'spares removed on close');
  }));

test('FileDisk: an allocate during the spare zero-fill waits for that spare (FDISK-7)', () =>
  withTempDir(async (dir) => {
    const disk = new FileDisk(dir, { sparePauseMs: 20 });
    const size = 8 * (1 << 20);
    assert.deepEqual(await disk.execute({ kind: 'allocate', file: 'a.log', size }), ok());
    assert.deepEqual(await disk.execute({ kind: 'write', file: 'b.log', offset: 0, data: bytes(0) }), ok());
    assert.deepEqual(await disk.execute({ kind: 'truncate', file: 'b.log', size: 0 }), ok());
    assert.deepEqual(await disk.execute({ kind: 'allocate', file: 'b.log', size }), ok());
    assert.deepEqual(disk.allocations, { fromSpare: 1, inline: 1 });
    assert.deepEqual(await disk.execute({ kind: 'stat', file: 'b.log' }), ok({ size }));
    await disk.close();
  }));
