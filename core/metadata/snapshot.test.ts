import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { makeRng } from '../rng.ts';
import { type Op, opArb, opsArb, resolveOp } from './arbitraries.ts';
import { handleCommand } from './controller.ts';
import { ControllerState } from './controller-state.ts';
import { produce } from 'immer';
import { type MetadataImage, applyRecords, emptyImage, imageInvariantViolations } from './image.ts';
import { configRecord, encodeRecords, featureLevelRecord, registerBrokerRecord } from './records.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot.ts';
import { MetadataStateMachine } from './state-machine.ts';

interface Entry {
  offset: number;
  epoch: number;
  payload: Uint8Array;
}

/** Drives random operations through ControllerState + raft-like entries into a state machine. */
const simulate = (ops: readonly Op[], seed: number): { entries: Entry[]; sm: MetadataStateMachine; images: MetadataImage[] } => {
  const sm = new MetadataStateMachine();
  const ctl = new ControllerState(sm.image);
  const rng = makeRng(seed);
  const entries: Entry[] = [];
  const images: MetadataImage[] = [sm.image];
  let offset = 0;
  for (const op of ops) {
    const r = ctl.handle(resolveOp(ctl.pendingImage, op), rng);
    if (!r.ok || r.records.length === 0) continue;
    const entry = { offset: offset++, epoch: 1 + (offset >> 3), payload: encodeRecords(r.records) };
    // Every other command commits at once; the rest stay pending a step (speculative validation).
    ctl.onProposed(entry.offset, entry.epoch, r.records);
    entries.push(entry);
    if (entry.offset % 2 === 1) {
      for (const e of entries.slice(sm.image.offset + 1)) sm.apply(e);
      ctl.onCommitted(sm.image);
      images.push(sm.image);
      assert.deepEqual(imageInvariantViolations(sm.image), []);
    }
  }
  const speculative = ctl.pendingImage;
  for (const e of entries.slice(sm.image.offset + 1)) sm.apply(e);
  images.push(sm.image);
  assert.deepEqual(imageInvariantViolations(sm.image), []);
  // CSTATE-1: the speculative image was exactly what committing everything produces.
  assert.deepEqual(speculative, sm.image);
  ctl.onCommitted(sm.image);
  assert.equal(ctl.pending.length, 0);
  assert.equal(ctl.pendingImage, sm.image);
  return { entries, sm, images };
};

test('SNAP-2: restoring a snapshot equals replaying the log; SNAP-1: bytes are canonical', () => {
  fc.assert(
    fc.property(opsArb(60), fc.integer(), fc.nat(), (ops, seed, cut) => {
      const { entries, sm } = simulate(ops, seed);
      const bytes = sm.snapshot();
      const restored = new MetadataStateMachine();
      restored.restore(bytes, sm.image.offset + 1, sm.image.epoch);
      assert.deepEqual(restored.image, sm.image);
      assert.deepEqual(restored.snapshot(), bytes);
      // Snapshot part way, restore, replay the rest: same image and same bytes.
      if (entries.length > 0) {
        const k = cut % entries.length;
        const prefix = new MetadataStateMachine();
        for (const e of entries.slice(0, k + 1)) prefix.apply(e);
        const resumed = new MetadataStateMachine();
        resumed.restore(prefix.snapshot(), k + 1, prefix.image.epoch);
        for (const e of entries.slice(k + 1)) resumed.apply(e);
        assert.deepEqual(resumed.image, sm.image);
        assert.deepEqual(resumed.snapshot(), bytes);
      }
    }),
    { numRuns: 150 },
  );
});

test('commands generated after a restore are the same as after replay (Map order does not leak)', () => {
  fc.assert(
    fc.property(opsArb(40), fc.array(opArb, { maxLength: 10 }), (ops, more) => {
      const { sm } = simulate(ops, 1);
      const restored = decodeSnapshot(sm.snapshot());
      assert.ok('image' in restored);
      for (const op of more) {
        const a = handleCommand(sm.image, resolveOp(sm.image, op), makeRng(9));
        const b = handleCommand(restored.image, resolveOp(restored.image, op), makeRng(9));
        assert.deepEqual(a, b);
      }
    }),
    { numRuns: 100 },
  );
});

test('snapshot of the empty image, and the offset convention', () => {
  const empty = encodeSnapshot(emptyImage());
  const d = decodeSnapshot(empty);
  assert.ok('image' in d);
  assert.deepEqual(d.image, emptyImage());
  const sm = new MetadataStateMachine();
  sm.restore(empty, 0, 0);
  assert.equal(sm.image.offset, -1);
  // Raft's marker entries need not reach apply(): a snapshot id past the image is stamped.
  sm.restore(empty, 10, 2);
  assert.equal(sm.image.offset, 9);
  assert.equal(sm.image.epoch, 2);
  sm.apply({ offset: 10, epoch: 2, payload: new Uint8Array() });
  assert.equal(sm.image.offset, 10);
  assert.throws(() => new MetadataStateMachine().restore(sm.snapshot(), 5, 2), /does not fit raft's endOffset/);
  assert.throws(() => new MetadataStateMachine().restore(sm.snapshot(), 11, 3), /does not fit/);
  assert.throws(() => sm.apply({ offset: 11, epoch: 2, payload: new Uint8Array([7]) }), /does not decode/);
});

test('SNAP-3: corrupt or hostile snapshots are errors, never throws', () => {
  const { sm } = simulate(fc.sample(opsArb(40), { seed: 5, numRuns: 1 })[0], 5);
  const good = sm.snapshot();
  fc.assert(
    fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (at, flip) => {
      const bad = good.slice();
      bad[at % bad.length] ^= flip;
      const r = decodeSnapshot(bad);
      assert.ok('error' in r);
    }),
    { numRuns: 300 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      assert.ok('error' in decodeSnapshot(bytes));
    }),
    { numRuns: 500 },
  );
  assert.ok('error' in decodeSnapshot(good.subarray(0, good.length - 1)));
});

test('same operations and seed give the same entries and snapshot bytes; apply exposes patches', () => {
  const ops = fc.sample(opsArb(50), { seed: 11, numRuns: 1 })[0];
  const a = simulate(ops, 3);
  const b = simulate(ops, 3);
  assert.deepEqual(a.entries, b.entries);
  assert.deepEqual(a.sm.snapshot(), b.sm.snapshot());
  const sm = new MetadataStateMachine();
  for (const e of a.entries.slice(0, 2)) sm.apply(e);
  assert.ok(sm.lastPatches.length > 0, 'a registration or unfence patches the brokers map');
  assert.ok(sm.lastPatches.every((p) => Array.isArray(p.path)));
});

test('snapshots carry features and configs; records that do not fit are an error', () => {
  let image = applyRecords(emptyImage(), [
    featureLevelRecord({ name: 'metadata.version', featureLevel: 9 }),
    featureLevelRecord({ name: 'kraft.version', featureLevel: 1 }),
    registerBrokerRecord({ brokerId: 3, incarnationId: 'ab'.repeat(16), brokerEpoch: 5, endPoints: [], features: [{ name: 'f', minSupportedVersion: 0, maxSupportedVersion: 2 }], rack: 'r', fenced: true }),
    configRecord({ resourceType: 4, resourceName: '3', name: 'log.dirs', value: '/x' }),
    configRecord({ resourceType: 2, resourceName: 'a:b', name: 'k', value: 'v' }),
  ], 4, 2);
  const d = decodeSnapshot(encodeSnapshot(image));
  assert.ok('image' in d);
  assert.deepEqual(d.image, image);
  // A snapshot that passes its CRC but whose header contradicts its records (META-6).
  image = produce(image, (draft) => {
    draft.maxBrokerEpoch = 1;
  });
  const bad = decodeSnapshot(encodeSnapshot(image));
  assert.ok('error' in bad && /inconsistent/.test(bad.error), JSON.stringify(bad));
});
