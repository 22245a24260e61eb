// MachineRunner: a toy machine that writes, syncs and replies only after the sync's DiskDone
// (IO-1), run on a real FileDisk.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { disk, reply, type Effect, type Input, type Machine } from '../core/io.ts';
import { FileDisk } from './file-disk.ts';
import { MachineRunner } from './machine-runner.ts';

/** Appends each request's bytes to 'log', syncs, then replies with the op ids in completion order. */
class ToyLog implements Machine<never, Uint8Array, string> {
  size = 0;
  nextId = 1;
  done: string[] = [];
  waiting = new Map<number, { conn: number; corr: number }>();
  step(input: Input<never, Uint8Array>): Effect<never, string>[] {
    if (input.tag === 'ClientRequest') {
      const w = this.nextId++;
      const s = this.nextId++;
      const out = [disk(w, { kind: 'write', file: 'p/log', offset: this.size, data: input.request }), disk(s, { kind: 'sync', file: 'p/log' })];
      this.size += input.request.length;
      this.waiting.set(s, { conn: input.conn, corr: input.corr });
      return out;
    }
    if (input.tag === 'DiskDone' || input.tag === 'DiskFailed') {
      this.done.push(`${input.id}:${input.op}:${input.tag}`);
      const r = this.waiting.get(input.id);
      if (r !== undefined && input.tag === 'DiskDone') return [reply(r.conn, r.corr, `durable ${input.id}`)];
    }
    return [];
  }
}

test('MachineRunner: disk effects run in order, replies follow their sync (IO-1)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-runner-'));
  try {
    const fd = new FileDisk(dir);
    const machine = new ToyLog();
    const replies: string[] = [];
    let resolveAll: () => void = () => {};
    const all = new Promise<void>((r) => (resolveAll = r));
    const runner = new MachineRunner(machine, fd, (e) => {
      assert.equal(e.tag, 'Reply');
      if (e.tag === 'Reply') replies.push(`${e.corr}:${e.response}`);
      if (replies.length === 5) resolveAll();
    });
    for (let corr = 0; corr < 5; corr++) {
      runner.input({ tag: 'ClientRequest', conn: 1, corr, request: Uint8Array.of(corr, corr), ...runner.stamp() });
    }
    await all;
    assert.deepEqual(replies, ['0:durable 2', '1:durable 4', '2:durable 6', '3:durable 8', '4:durable 10']);
    assert.deepEqual(machine.done.map((d) => Number(d.split(':')[0])), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual([...(await readFile(join(dir, 'p/log')))], [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
    await fd.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
