import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Scheduler } from './scheduler.ts';

test('runs in (time, insertion) order; cancelled events never run (SCHED-1, SCHED-3)', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean()), { maxLength: 200 }), (specs) => {
      const s = new Scheduler();
      const ran: number[] = [];
      const evs = specs.map(([t], i) => s.at(t, () => ran.push(i)));
      specs.forEach(([, cancel], i) => cancel && s.cancel(evs[i]));
      assert.equal(s.size(), specs.filter(([, c]) => !c).length);
      while (s.runNext());
      const expected = specs
        .map(([t, c], i) => ({ t, c, i }))
        .filter((x) => !x.c)
        .sort((a, b) => a.t - b.t || a.i - b.i)
        .map((x) => x.i);
      assert.deepEqual(ran, expected);
      assert.equal(s.size(), 0);
    }),
  );
});

test('events scheduled while running; now advances; runUntil stops at the bound', () => {
  const s = new Scheduler();
  const log: string[] = [];
  s.at(10, () => {
    log.push(`a@${s.now()}`);
    s.after(0, () => log.push(`b@${s.now()}`));
    s.after(5, () => log.push(`c@${s.now()}`));
  });
  s.at(10, () => log.push(`d@${s.now()}`));
  assert.equal(s.runUntil(12), 3);
  assert.deepEqual(log, ['a@10', 'd@10', 'b@10']);
  assert.equal(s.now(), 12);
  assert.equal(s.peekTimeMs(), 15);
  s.runUntil(100);
  assert.deepEqual(log.at(-1), 'c@15');
  assert.equal(s.now(), 100);
  assert.throws(() => s.at(99, () => {}), /SCHED-2/);
  assert.throws(() => s.after(-1, () => {}));
});

test('cancel is idempotent and a no-op after the event ran; the queue is bounded', () => {
  const s = new Scheduler({ maxEvents: 3 });
  const e = s.at(1, () => {});
  s.cancel(e);
  s.cancel(e);
  assert.equal(s.size(), 0);
  const f = s.at(1, () => {});
  s.runNext();
  s.cancel(f);
  assert.equal(s.size(), 0);
  s.at(2, () => {});
  s.at(2, () => {});
  s.at(2, () => {});
  assert.throws(() => s.at(2, () => {}), /SCHED-4/);
});

test('heap runs 200k events, in time order', () => {
  // Speed is measured by `npm run bench -- sim`, not asserted here (tests never assert on wall time).
  const s = new Scheduler();
  let x = 1;
  let count = 0;
  let lastAt = -1;
  let ordered = true;
  for (let i = 0; i < 200_000; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const at = x % 10_000;
    s.at(at, () => {
      count++;
      if (at < lastAt) ordered = false;
      lastAt = at;
    });
  }
  while (s.runNext());
  assert.equal(count, 200_000);
  assert.ok(ordered, 'events ran in time order');
});
