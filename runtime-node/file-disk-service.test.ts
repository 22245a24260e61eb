// FileDiskService: the layer creates the data directory, provides a working FileDisk and closes
// its handles when the scope ends (FDISK-6).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Effect } from 'effect';
import { FileDiskService } from './file-disk-service.ts';
import type { FileDisk } from './file-disk.ts';

test('FileDiskService: layer provides a FileDisk and closes it with the scope', async () => {
  const base = await mkdtemp(join(tmpdir(), 'cairn-svc-'));
  try {
    const dataDir = join(base, 'node-1');
    let seen: FileDisk | undefined;
    const program = Effect.gen(function* () {
      const disk = yield* FileDiskService;
      seen = disk;
      const w = yield* Effect.promise(() => disk.execute({ kind: 'write', file: 'a/0.log', offset: 0, data: Uint8Array.of(1) }));
      assert.equal(w.ok, true);
      assert.equal(disk.openHandles, 1);
      return yield* Effect.promise(() => disk.execute({ kind: 'read', file: 'a/0.log', offset: 0, length: 4 }));
    });
    const read = await Effect.runPromise(Effect.provide(program, FileDiskService.layer({ dataDir })));
    assert.deepEqual(read.ok && [...read.result.data!], [1]);
    assert.equal(seen!.openHandles, 0, 'handles closed on release');
    const after = await seen!.execute({ kind: 'stat', file: 'a/0.log' });
    assert.deepEqual(after, { ok: false, error: 'EIO' });
  } finally {
    await rm(base, { recursive: true, force: true });
  }
});

test('FileDiskService: an unusable data directory fails with DataDirError', async () => {
  const base = await mkdtemp(join(tmpdir(), 'cairn-svc-'));
  const blocker = join(base, 'file');
  await writeFile(blocker, 'x'); // a data directory under a regular file cannot be created (ENOTDIR)
  const program = Effect.gen(function* () {
    return yield* FileDiskService;
  });
  const provided = Effect.provide(program, FileDiskService.layer({ dataDir: join(blocker, 'x') }));
  const error = await Effect.runPromise(Effect.flip(provided));
  assert.equal(error._tag, 'DataDirError');
  assert.equal(error.dataDir, join(blocker, 'x'));
  await rm(base, { recursive: true, force: true });
});
