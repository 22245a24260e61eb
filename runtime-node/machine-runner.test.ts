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

// RUN-4..6 (found in review): a throw dropped the queued inputs and the rest of a step's effects,
// then the next input was stepped on the half-updated machine; completions stepped the machine
// after its disk closed; inputs were stamped from two clocks; RUN-3 counted every input drained.
test('MachineRunner: fail-stop on a throwing step, stop() before close, one clock, a bounded wait', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cairn-runner-'));
  try {
    let clock = 1000;
    const fd = new FileDisk(dir, { stamp: () => ({ now: clock++, wall: 0 }) });
    const seen: string[] = [];
    const failures: unknown[] = [];
    let runner!: MachineRunner<never, string, string>;
    const machine: Machine<never, string, string> = {
      step(input) {
        if (input.tag !== 'ClientRequest') return [];
        seen.push(input.request);
        if (input.request === 'boom') throw new Error('machine bug');
        if (input.request === 'A') return [reply(1, 1, 'a'), reply(1, 2, 'feed')];
        return [];
      },
    };
    runner = new MachineRunner(machine, fd, (e) => {
      if (e.tag === 'Reply' && e.response === 'feed') {
        for (const r of ['boom', 'C']) runner.input({ tag: 'ClientRequest', conn: 1, corr: 3, request: r, ...runner.stamp() });
      }
    }, { onFailure: (e) => failures.push(e) });
    runner.input({ tag: 'ClientRequest', conn: 1, corr: 1, request: 'A', ...runner.stamp() });
    runner.input({ tag: 'ClientRequest', conn: 1, corr: 4, request: 'D', ...runner.stamp() });
    assert.deepEqual(seen, ['A', 'boom'], 'C (queued behind the failure) and D (after it) are never stepped');
    assert.equal(failures.length, 1);
    assert.equal(runner.status, 'failed');
    assert.equal(runner.stamp().now, clock - 1, "the runner's stamps come from the FileDisk's clock");

    // stop(): a completion arriving after it is not stepped.
    const steps: string[] = [];
    const writer: Machine<never, string, string> = {
      step(input) {
        steps.push(input.tag);
        return input.tag === 'ClientRequest' ? [disk(1, { kind: 'write', file: 'p/x', offset: 0, data: Uint8Array.of(1), sync: true })] : [];
      },
    };
    const r2 = new MachineRunner(writer, fd, () => {});
    r2.input({ tag: 'ClientRequest', conn: 1, corr: 1, request: 'w', ...r2.stamp() });
    r2.stop();
    await fd.close();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(steps, ['ClientRequest'], 'the DiskDone after stop() is dropped');

    // RUN-3 bounds what waits, not what one drain steps: a chain feeding one input at a time is fine.
    let n = 0;
    const chain: Machine<never, string, string> = { step: () => (n++ < 10 ? [reply(1, 1, 'again')] : []) };
    let r3!: MachineRunner<never, string, string>;
    r3 = new MachineRunner(chain, new FileDisk(dir), () => r3.input({ tag: 'ClientRequest', conn: 1, corr: 1, request: 'x', ...r3.stamp() }), { maxBacklog: 3 });
    r3.input({ tag: 'ClientRequest', conn: 1, corr: 1, request: 'x', ...r3.stamp() });
    assert.equal(n, 11);
    assert.equal(r3.status, 'running');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
