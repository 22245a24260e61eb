// FileDisk checks that need node:fs/promises itself slowed down or observed: this file patches
// it (syncBuiltinESMExports makes file-disk.ts's named imports see the patch), so these run in
// their own test process. Both were found in review.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const MiB = 1 << 20;
const fsp = require('node:fs/promises') as typeof import('node:fs/promises');
const realRm = fsp.rm;
const realOpen = fsp.open;
let slowRm = false;
let rmStarted: (() => void) | null = null;
/** Directories opened O_DIRECTORY (to be fsynced), while recording. */
let dirOpens: string[] | null = null;
(fsp as { rm: typeof fsp.rm }).rm = (async (path: import('node:fs').PathLike, opts?: import('node:fs').RmOptions) => {
  if (slowRm && String(path).includes('.cairn-spare/spare-')) {
    await realRm(path, opts); // unlinked, but the caller continues only later (a busy event loop)
    rmStarted?.();
    await new Promise((r) => setTimeout(r, 5));
    return;
  }
  return realRm(path, opts);
}) as typeof fsp.rm;
/** Writes of at least 1 MiB (zero-fill chunks) that may still succeed before each fails with ENOSPC; null: off. */
let bigWritesLeft: number | null = null;
(fsp as { open: typeof fsp.open }).open = (async (path: import('node:fs').PathLike, flags?: string | number, mode?: number) => {
  if (dirOpens !== null && typeof flags === 'number' && (flags & constants.O_DIRECTORY) !== 0) dirOpens.push(String(path));
  const fh = await realOpen(path, flags, mode);
  const write = fh.write.bind(fh) as (...args: unknown[]) => Promise<unknown>;
  (fh as unknown as { write: (...args: unknown[]) => Promise<unknown> }).write = async (...args: unknown[]) => {
    const len = typeof args[2] === 'number' ? args[2] : (args[0] as Uint8Array).length;
    if (bigWritesLeft !== null && len >= MiB && bigWritesLeft-- <= 0) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
    return write(...args);
  };
  return fh;
}) as typeof fsp.open;
syncBuiltinESMExports();

const { FileDisk } = await import('./file-disk.ts');

test('FDISK-7: an allocate arriving while the spare job deletes the old spare does not take it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-spare-race-'));
  const disk = new FileDisk(dir, { spareRate: 0 });
  try {
    // A ready 1 MiB spare; then an allocate of another size starts a 2 MiB spare job, which ends
    // by deleting the 1 MiB one; a 1 MiB allocate of an empty file arrives during that delete.
    assert.deepEqual(await disk.execute({ kind: 'allocate', file: 'a.log', size: MiB }), { ok: true, result: {} });
    await disk.sparesSettled();
    await disk.execute({ kind: 'write', file: 'b.log', offset: 0, data: Uint8Array.of(1) });
    slowRm = true;
    const removing = new Promise<void>((r) => (rmStarted = r));
    assert.deepEqual(await disk.execute({ kind: 'allocate', file: 'b.log', size: 2 * MiB }), { ok: true, result: {} });
    await removing;
    assert.deepEqual(await disk.execute({ kind: 'allocate', file: 'c.log', size: MiB }), { ok: true, result: {} });
    assert.deepEqual(await disk.execute({ kind: 'stat', file: 'c.log' }), { ok: true, result: { size: MiB } });
  } finally {
    slowRm = false;
    await disk.close();
    await realRm(dir, { recursive: true, force: true });
  }
});

test('FDISK-11: directories created for a file are made durable (their parents fsynced)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-mkdir-'));
  const disk = new FileDisk(dir, { spares: false });
  try {
    dirOpens = [];
    assert.deepEqual(await disk.execute({ kind: 'write', file: 'x/y/f.log', offset: 0, data: Uint8Array.of(1) }), { ok: true, result: {} });
    assert.deepEqual(dirOpens.sort(), [dir, join(dir, 'x')], 'the parents of x and of x/y');
    dirOpens = [];
    await disk.execute({ kind: 'write', file: 'x/y/g.log', offset: 0, data: Uint8Array.of(1) });
    await disk.execute({ kind: 'rename', from: 'x/y/g.log', to: 'x/z/g.log' });
    assert.deepEqual(dirOpens, [join(dir, 'x')], 'a rename into a new directory: its parent only');
  } finally {
    dirOpens = null;
    await disk.close();
    await realRm(dir, { recursive: true, force: true });
  }
});

test('DISK-3: an allocate that runs out of space midway gives the space back; so does a failed spare', async () => {
  // Found in review: the inline zero-fill left the file grown to where ENOSPC hit, and a spare
  // job's partial file stayed in .cairn-spare/ (holding space exactly when it is short).
  const dir = await mkdtemp(join(tmpdir(), 'cairn-enospc-'));
  const disk = new FileDisk(dir, { spares: false });
  try {
    await disk.execute({ kind: 'write', file: 'a.log', offset: 0, data: Uint8Array.of(7, 7) });
    bigWritesLeft = 2;
    assert.deepEqual(await disk.execute({ kind: 'allocate', file: 'a.log', size: 8 * MiB }), { ok: false, error: 'ENOSPC' });
    bigWritesLeft = null;
    assert.deepEqual(await disk.execute({ kind: 'stat', file: 'a.log' }), { ok: true, result: { size: 2 } }, 'the size it had');
    assert.deepEqual(await disk.execute({ kind: 'read', file: 'a.log', offset: 0, length: 8 }), { ok: true, result: { data: Uint8Array.of(7, 7) } });
  } finally {
    bigWritesLeft = null;
    await disk.close();
    await realRm(dir, { recursive: true, force: true });
  }
  const dir2 = await mkdtemp(join(tmpdir(), 'cairn-enospc-spare-'));
  const disk2 = new FileDisk(dir2, { spareRate: 0 });
  try {
    assert.deepEqual(await disk2.execute({ kind: 'allocate', file: 'b.log', size: 2 * MiB }), { ok: true, result: {} });
    bigWritesLeft = 1; // the spare job (2 MiB) writes one chunk, then fails
    await disk2.sparesSettled();
    bigWritesLeft = null;
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual(await readdir(join(dir2, '.cairn-spare')), [], 'no partial spare left');
    assert.deepEqual(await disk2.execute({ kind: 'allocate', file: 'c.log', size: 2 * MiB }), { ok: true, result: {} }, 'allocate falls back to zeroing inline');
    assert.deepEqual(disk2.allocations, { fromSpare: 0, inline: 2 });
  } finally {
    bigWritesLeft = null;
    await disk2.close();
    await realRm(dir2, { recursive: true, force: true });
  }
});
