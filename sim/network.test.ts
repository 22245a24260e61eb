import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { makeSimRng } from './rng.ts';
import { Scheduler } from './scheduler.ts';
import { type Connection, type NetworkConfig, SimNetwork } from './network.ts';

interface Got {
  t: number;
  conn: number;
  from: number;
  to: number;
  m: number;
}

const setup = (config: NetworkConfig = {}, seed = 1) => {
  const sched = new Scheduler();
  const got: Got[] = [];
  const broken: { id: number; reason: string }[] = [];
  const net = new SimNetwork<number>({
    rng: makeSimRng(seed),
    scheduler: sched,
    config,
    sizeOf: (m) => m,
    handlers: {
      deliver: (c, from, to, m) => got.push({ t: sched.now(), conn: c.id, from, to, m }),
      broken: (c, reason) => broken.push({ id: c.id, reason }),
    },
  });
  return { sched, net, got, broken };
};

test('FIFO per connection and direction under random latency and spikes (NET-1)', () => {
  fc.assert(
    fc.property(fc.integer(), fc.array(fc.tuple(fc.nat(2), fc.boolean(), fc.nat(5)), { maxLength: 100 }), (seed, sends) => {
      const { sched, net, got } = setup({ latencyMs: { min: 0, max: 10 }, spikeRate: 0.2, spikeMs: 30 }, seed);
      const conns = [net.connect(0, 1), net.connect(0, 2), net.connect(1, 2)];
      let i = 0;
      for (const [c, ab, gap] of sends) {
        const conn = conns[c];
        sched.after(gap, () => net.send(conn, ab ? conn.a : conn.b, i++)); // numbered in send order
      }
      sched.runUntil(1e9);
      assert.equal(got.length, sends.length, 'nothing lost without faults');
      for (const conn of conns) {
        for (const from of [conn.a, conn.b]) {
          const ms = got.filter((g) => g.conn === conn.id && g.from === from).map((g) => g.m);
          assert.deepEqual(ms, [...ms].sort((x, y) => x - y));
        }
      }
    }),
  );
});

test('bandwidth serialises a direction: 10 x 100 bytes at 10 B/ms take >= 100 ms', () => {
  const { sched, net, got } = setup({ latencyMs: { min: 1, max: 1 }, bandwidthBytesPerMs: 10 });
  const c = net.connect(0, 1);
  for (let i = 0; i < 10; i++) net.send(c, 0, 100);
  sched.runUntil(1e6);
  assert.equal(got.length, 10);
  assert.equal(got[9].t, 101);
  assert.equal(got[0].t, 11);
});

test('reset loses the message and everything in flight; later conns work (NET-2)', () => {
  const { sched, net, got, broken } = setup({ latencyMs: { min: 5, max: 5 } });
  const c = net.connect(0, 1);
  net.send(c, 0, 1);
  net.send(c, 0, 2);
  net.setConfig({ latencyMs: { min: 5, max: 5 }, resetRate: 1 });
  assert.equal(net.send(c, 0, 3), false);
  assert.equal(c.open, false);
  assert.deepEqual(broken, [{ id: c.id, reason: 'reset' }]);
  net.setConfig({ latencyMs: { min: 5, max: 5 } });
  assert.equal(net.send(c, 1, 4), false, 'a broken connection stays broken');
  const c2 = net.connect(0, 1);
  assert.equal(net.send(c2, 0, 5), true);
  sched.runUntil(100);
  assert.deepEqual(got.map((g) => g.m), [5]);
  assert.deepEqual(net.counters(), { sent: 5, delivered: 1, lost: 4, breaks: 1 });
});

test('partition breaks conns across it, in flight lost; sends across are lost; heal (NET-3)', () => {
  const { sched, net, got, broken } = setup({ latencyMs: { min: 5, max: 5 } });
  const c01 = net.connect(0, 1);
  const c02 = net.connect(0, 2);
  const c12 = net.connect(1, 2);
  net.send(c01, 0, 1);
  net.send(c12, 1, 2);
  net.partition([[0], [1, 2]]);
  assert.deepEqual(broken.map((b) => b.id).sort(), [c01.id, c02.id].sort());
  assert.ok(c12.open);
  const c01b = net.connect(0, 1);
  assert.equal(net.send(c01b, 1, 3), false);
  assert.equal(c01b.open, false);
  sched.runUntil(50);
  assert.deepEqual(got.map((g) => g.m), [2]);
  net.heal();
  const c01c = net.connect(0, 1);
  assert.ok(net.send(c01c, 0, 4));
  sched.runUntil(100);
  assert.deepEqual(got.map((g) => g.m), [2, 4]);
});

test('one-way: the cut direction loses, the other flows', () => {
  const { sched, net, got } = setup({ latencyMs: { min: 1, max: 1 } });
  net.oneWay([0], [1]);
  const c = net.connect(0, 1);
  assert.ok(net.send(c, 1, 7));
  sched.runUntil(10);
  assert.deepEqual(got.map((g) => g.m), [7]);
  assert.equal(net.send(c, 0, 8), false);
  assert.equal(c.open, false);
  assert.equal(net.isBlocked(0, 1), true);
  assert.equal(net.isBlocked(1, 0), false);
});

test('isolate, bridge, breakEndpoint, slow link', () => {
  const { sched, net, got, broken } = setup({ latencyMs: { min: 1, max: 1 } });
  net.isolate(2, [0, 1, 2]);
  assert.ok(net.isBlocked(2, 0) && net.isBlocked(1, 2) && !net.isBlocked(0, 1));
  net.heal();
  net.bridge([0, 1], [1, 2], 1);
  assert.ok(net.isBlocked(0, 2) && net.isBlocked(2, 0) && !net.isBlocked(0, 1) && !net.isBlocked(1, 2));
  net.heal();
  assert.equal(net.partitioned(), false);
  const a = net.connect(5, 0);
  const b = net.connect(5, 1);
  net.connect(0, 1);
  net.breakEndpoint(5);
  assert.deepEqual(broken.filter((x) => x.reason === 'endpoint').map((x) => x.id), [a.id, b.id]);
  net.setLinkDelay(0, 1, 50);
  const c = net.connect(0, 1);
  net.send(c, 1, 9);
  sched.runUntil(1000);
  assert.equal(got[0].t, 51);
});

test('same seed => same delivery times (NET-4)', () => {
  const run = (seed: number) => {
    const { sched, net, got } = setup({ latencyMs: { min: 0, max: 10 }, resetRate: 0.05 }, seed);
    let conn: Connection = net.connect(0, 1);
    for (let i = 0; i < 300; i++) {
      sched.after(1, () => {
        if (!conn.open) conn = net.connect(0, 1);
        net.send(conn, i % 2, i);
      });
      sched.runNext();
    }
    sched.runUntil(1e6);
    return got.map((g) => `${g.t}:${g.m}`).join(',');
  };
  assert.equal(run(3), run(3));
  assert.notEqual(run(3), run(4));
});
