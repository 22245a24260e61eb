import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DEFAULT_EPOCH_MS, NodeClock } from './clock.ts';

test('monotonic with drift, never backwards across drift changes and wall steps (CLOCK-1)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.double({ min: 0, max: 100, noNaN: true }), fc.double({ min: -0.5, max: 0.5, noNaN: true }), fc.integer({ min: -5000, max: 5000 })), { maxLength: 50 }),
      (steps) => {
        const c = new NodeClock({ drift: 0.01 });
        let g = 0;
        let last = c.stamp(0).now;
        for (const [dt, drift, wallStep] of steps) {
          g += dt;
          c.setDrift(g, drift);
          c.stepWall(wallStep);
          const s = c.stamp(g);
          assert.ok(s.now >= last);
          last = s.now;
        }
      },
    ),
  );
});

test('drift scales elapsed time; wall = epoch + offset + mono; steps move wall only', () => {
  const c = new NodeClock({ drift: 0.1, wallOffsetMs: 500 });
  assert.deepEqual(c.stamp(0), { now: 0, wall: DEFAULT_EPOCH_MS + 500 });
  assert.equal(c.stamp(1000).now, 1100);
  c.setDrift(1000, -0.1);
  assert.equal(c.stamp(2000).now, 2000);
  c.stepWall(-3000);
  const s = c.stamp(2000);
  assert.equal(s.now, 2000);
  assert.equal(s.wall, DEFAULT_EPOCH_MS + 500 - 3000 + 2000);
  assert.throws(() => c.setDrift(2000, 0.9), /CLOCK-2/);
});

test('globalAt: a timer of afterMs node time never fires early (CLOCK-3)', () => {
  fc.assert(
    fc.property(fc.double({ min: -0.5, max: 0.5, noNaN: true }), fc.double({ min: 0, max: 1e7, noNaN: true }), fc.integer({ min: 0, max: 100000 }), (drift, g0, afterMs) => {
      const c = new NodeClock({ drift });
      const target = c.mono(g0) + afterMs;
      const g = c.globalAt(target, g0);
      assert.ok(g >= g0);
      assert.ok(c.mono(g) >= target);
      assert.ok(c.stamp(g).now >= Math.floor(c.mono(g0)) + afterMs);
    }),
  );
});
