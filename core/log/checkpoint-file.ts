// Kafka's text checkpoint files: a version line, a count line, then one entry per line
// ("topic partition offset" for offset checkpoints, "epoch startOffset" for the leader-epoch file).
// Written atomically (CKPT-1): write `name.tmp`, sync it, rename over `name`, syncDir — a crash
// leaves either the old or the new file, never a mix. A file that does not parse is treated as
// absent (recovery then falls back to the conservative value), never trusted partially.
import type { DiskOp } from '../io.ts';

export const CHECKPOINT_VERSION = 0;

export const CKPT_RECOVERY_POINT = 'recovery-point-offset-checkpoint';
export const CKPT_HIGH_WATERMARK = 'replication-offset-checkpoint';
export const CKPT_LOG_START = 'log-start-offset-checkpoint';
export const CKPT_LEADER_EPOCH = 'leader-epoch-checkpoint';

export const encodeCheckpoint = (rows: readonly (readonly (string | number)[])[]): Uint8Array => {
  let text = `${CHECKPOINT_VERSION}\n${rows.length}\n`;
  for (const row of rows) text += `${row.join(' ')}\n`;
  return new TextEncoder().encode(text);
};

/** Rows of whitespace-split fields, or null when the file is malformed (bad version/count). */
export const parseCheckpoint = (bytes: Uint8Array, fieldsPerRow: number): string[][] | null => {
  const lines = new TextDecoder().decode(bytes).split('\n');
  if (lines.length < 2 || lines[0] !== String(CHECKPOINT_VERSION)) return null;
  const count = Number(lines[1]);
  if (!Number.isInteger(count) || count < 0 || lines.length < 2 + count) return null;
  const rows: string[][] = [];
  for (let i = 0; i < count; i++) {
    const fields = lines[2 + i].split(' ');
    if (fields.length !== fieldsPerRow || fields.some((f) => f.length === 0)) return null;
    rows.push(fields);
  }
  return rows;
};

/** Parses a safe integer field (a sign is allowed: callers reject negatives where they must), or null. */
export const parseOffset = (s: string): number | null => {
  if (!/^-?\d+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
};

/** The five disk ops of an atomic replace of `dir/name` (CKPT-1): write, truncate, sync, rename, syncDir. */
export const atomicWriteOps = (dir: string, name: string, data: Uint8Array): DiskOp[] => [
  { kind: 'write', file: `${dir}/${name}.tmp`, offset: 0, data },
  { kind: 'truncate', file: `${dir}/${name}.tmp`, size: data.length },
  { kind: 'sync', file: `${dir}/${name}.tmp` },
  { kind: 'rename', from: `${dir}/${name}.tmp`, to: `${dir}/${name}` },
  { kind: 'syncDir', dir },
];

