// The FileDisk as an Effect service: acquired in a scope (the data directory is created, the
// FileDisk opened) and released with it (queued ops finish, every cached handle is closed,
// FDISK-6). Effect owns only the lifetime: the per-op path is FileDisk.submit/execute, plain
// callbacks and promises, so no fiber is created per disk operation.
//
// Usage:
//   const program = Effect.gen(function* () { const disk = yield* FileDiskService; ... });
//   Effect.runPromise(Effect.provide(program, FileDiskService.layer({ dataDir })));

import { mkdir } from 'node:fs/promises';
import { Context, Data, Effect, Layer } from 'effect';
import { FileDisk, type FileDiskOptions } from './file-disk.ts';

/** The data directory could not be created or opened. */
export class DataDirError extends Data.TaggedError('DataDirError')<{ readonly dataDir: string; readonly cause: unknown }> {}

export interface FileDiskConfig extends FileDiskOptions {
  readonly dataDir: string;
}

export class FileDiskService extends Context.Service<FileDiskService, FileDisk>()('cairn/runtime-node/FileDisk') {
  /** A scoped FileDisk: acquired with the layer, closed when the layer's scope closes. */
  static readonly acquire = (config: FileDiskConfig): Effect.Effect<FileDisk, DataDirError, import('effect').Scope.Scope> =>
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          await mkdir(config.dataDir, { recursive: true });
          return new FileDisk(config.dataDir, config);
        },
        catch: (cause) => new DataDirError({ dataDir: config.dataDir, cause }),
      }),
      (disk) => Effect.promise(() => disk.close()),
    );

  static readonly layer = (config: FileDiskConfig): Layer.Layer<FileDiskService, DataDirError> =>
    Layer.effect(FileDiskService, FileDiskService.acquire(config));
}
