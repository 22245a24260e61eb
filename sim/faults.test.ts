import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Effect, type Input, type Machine, type NodeId, disk, reply, send, setTimer } from '../core/io.ts';
import { type FaultEvent, type FaultFlag, applyFault, describePlan, healAll, planFaults, scheduleFaults } from './faults.ts';
import { World } from './world.ts';

const IDS = [1, 2, 3];
const ALL: FaultFlag[] = ['partition', 'crash', 'pause', 'disk', 'clock', 'net'];

/** A tolerant toy node: heartbeats, and a counter written and fsynced before each reply. */
class Toy implements Machine<{ v: number }, 'incr', number | 'err'> {
  value = 0;
  id = 1;
  waiting = new Map<number, { conn: number; corr: number; v: number }>();
  constructor(readonly me: NodeId) {}
  step(i: Input<{ v: number }, 'incr'>): Effect<{ v: number }, number | 'err'>[] {
    switch (i.tag) {
      case 'Start':
        return [setTimer('hb', 5)];
      case 'Timer':
        return [setTimer('hb', 5), ...IDS.filter((p) => p !== this.me).map((p) => send(p, { v: this.value }))];
      case 'ClientRequest': {
        this.value++;
        const w = this.id++;
        const s = this.id++;
        this.waiting.set(s, { conn: i.conn, corr: i.corr, v: this.value });
        return [disk(w, { kind: 'write', file: 'log', offset: this.value * 4, data: Uint8Array.of(1, 2, 3, 4) }), disk(s, { kind: 'sync', file: 'log' })];
      }
      case 'DiskDone':
      case 'DiskFailed': {
        const w = this.waiting.get(i.id);
        if (!w) return [];
        this.waiting.delete(i.id);
        return [reply(w.conn, w.corr, i.tag === 'DiskDone' ? w.v : 'err')];
      }
      default:
        return [];
    }
  }
}

const mkWorld = (seed: number) =>
  new World<{ v: number }, 'incr', number | 'err'>({ seed, nodeIds: IDS, makeNode: (id) => new Toy(id) });

const client = (w: World<{ v: number }, 'incr', number | 'err'>, node: NodeId, acks: number[]) => {
  let conn = 0;
  let corr = 0;
  const open = () => {
    conn = w.connect(node, { onReply: (_c, r) => typeof r === 'number' && acks.push(r), onClose: () => w.after(5, open) });
  };
  open();
  const tick = () => {
    w.request(conn, ++corr, 'incr');
    w.after(4, tick);
  };
  w.after(4, tick);
};

test('planFaults is a pure function of its inputs (FAULT-4); flags select timelines', () => {
  const a = planFaults({ seed: 9, flags: ALL, nodeIds: IDS, durationMs: 20_000 });
  const b = planFaults({ seed: 9, flags: ALL, nodeIds: IDS, durationMs: 20_000 });
  const c = planFaults({ seed: 10, flags: ALL, nodeIds: IDS, durationMs: 20_000 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.events, c.events);
  const kinds = new Set(a.events.map((e) => e.kind));
  for (const k of ['partition', 'crash', 'pause', 'diskFaults', 'netHeal']) assert.ok(kinds.has(k as FaultEvent['kind']), k);
  assert.ok(kinds.has('clockDrift') || kinds.has('clockStep'));
  const only = planFaults({ seed: 9, flags: ['crash'], nodeIds: IDS, durationMs: 20_000 });
  assert.ok(only.events.every((e) => e.kind === 'crash' || e.kind === 'restart'));
  // Per-flag streams: the crash timeline is the same with or without other flags.
  const crashes = (p: typeof a) => p.events.filter((e) => e.kind === 'crash' || e.kind === 'restart');
  assert.deepEqual(crashes(only), crashes(a));
  for (let i = 1; i < a.events.length; i++) assert.ok(a.events[i].atMs >= a.events[i - 1].atMs);
  assert.ok(describePlan(a).length === a.events.length);
  assert.throws(() => planFaults({ seed: 1, flags: ['bogus' as FaultFlag], nodeIds: IDS, durationMs: 1 }));
});

test('FAULT-5: reads adds no fault event and moves no other draw; swarm draws it in about half its runs', () => {
  const with_ = planFaults({ seed: 9, flags: [...ALL, 'reads'], nodeIds: IDS, durationMs: 20_000 });
  const without = planFaults({ seed: 9, flags: ALL, nodeIds: IDS, durationMs: 20_000 });
  assert.equal(with_.reads, true);
  assert.equal(without.reads, false);
  assert.deepEqual(with_.events, without.events);
  assert.deepEqual(planFaults({ seed: 9, flags: ['reads'], nodeIds: IDS, durationMs: 20_000 }).events, []);
  let drawn = 0;
  for (let seed = 0; seed < 200; seed++) if (planFaults({ seed, flags: ['swarm'], nodeIds: IDS, durationMs: 1_000 }).reads) drawn++;
  assert.ok(drawn > 60 && drawn < 140, `swarm drew reads in ${drawn} of 200`);
});

test('FAULT-1: silent disk corruption only on plan.corruptNode', () => {
  let silentSeen = 0;
  for (let seed = 0; seed < 200; seed++) {
    const p = planFaults({ seed, flags: ['disk', 'swarm'], nodeIds: IDS, durationMs: 30_000 });
    for (const e of p.events) {
      if (e.kind === 'corrupt') assert.equal(e.node, p.corruptNode);
      if (e.kind === 'diskFaults' && (e.config.bitRotRate || e.config.lostWriteRate || e.config.misdirectedWriteRate)) {
        assert.equal(e.node, p.corruptNode);
        silentSeen++;
      }
    }
  }
  assert.ok(silentSeen > 50);
});

test('FAULT-2: crashes restart, windows close and do not overlap', () => {
  for (let seed = 0; seed < 100; seed++) {
    const p = planFaults({ seed, flags: ['swarm'], nodeIds: IDS, durationMs: 30_000 });
    const down = new Set<NodeId>();
    let parted = false;
    let net = false;
    const diskFaulty = new Set<NodeId>();
    for (const e of p.events) {
      switch (e.kind) {
        case 'crash':
          assert.ok(!down.has(e.node));
          down.add(e.node);
          break;
        case 'restart':
          assert.ok(down.delete(e.node));
          break;
        case 'partition':
          assert.ok(!parted);
          parted = true;
          break;
        case 'healPartition':
          assert.ok(parted);
          parted = false;
          break;
        case 'netFaults':
        case 'slowLink':
        case 'resetConns':
          assert.ok(!net);
          net = true;
          break;
        case 'netHeal':
          assert.ok(net);
          net = false;
          break;
        case 'diskFaults':
          assert.equal(diskFaulty.size, 0);
          diskFaulty.add(e.node);
          break;
        case 'diskHeal':
          assert.ok(diskFaulty.delete(e.node));
          break;
      }
    }
    assert.equal(down.size, 0);
    assert.ok(!parted && !net && diskFaulty.size === 0);
  }
});

test('swarm draws a non-empty random subset per seed', () => {
  const subsets = new Set<string>();
  for (let seed = 0; seed < 60; seed++) {
    const p = planFaults({ seed, flags: ['swarm'], nodeIds: IDS, durationMs: 10_000 });
    assert.ok(p.flags.size > 0);
    subsets.add([...p.flags].sort().join(','));
  }
  assert.ok(subsets.size > 10, `only ${subsets.size} subsets`);
});

test('applyFault: each kind changes the world as described; isolateLeader uses leaderOf', () => {
  const w = mkWorld(1);
  w.run({ untilMs: 10 });
  applyFault(w, { atMs: 0, kind: 'partition', mode: 'isolateLeader', groups: [] }, { leaderOf: () => 2 });
  assert.ok(w.network.isBlocked(2, 1) && w.network.isBlocked(3, 2) && !w.network.isBlocked(1, 3));
  applyFault(w, { atMs: 0, kind: 'healPartition' });
  assert.ok(!w.network.partitioned());
  applyFault(w, { atMs: 0, kind: 'partition', mode: 'bridge', groups: [[1], [3], [2]] });
  assert.ok(w.network.isBlocked(1, 3) && !w.network.isBlocked(1, 2) && !w.network.isBlocked(2, 3));
  applyFault(w, { atMs: 0, kind: 'crash', node: 3 });
  assert.ok(!w.isUp(3));
  applyFault(w, { atMs: 0, kind: 'pause', node: 1, ms: 1000 });
  assert.ok(w.isPaused(1));
  applyFault(w, { atMs: 0, kind: 'diskFaults', node: 2, config: { syncFailRate: 1 } });
  assert.equal(w.disk(2).getFaults().syncFailRate, 1);
  applyFault(w, { atMs: 0, kind: 'clockStep', node: 2, deltaMs: -5000 });
  assert.equal(w.clock(2).wallOffsetMs(), -5000);
  applyFault(w, { atMs: 0, kind: 'netFaults', config: { resetRate: 0.5 } });
  assert.equal(w.network.getConfig().resetRate, 0.5);
  healAll(w);
  assert.ok(!w.network.partitioned() && w.isUp(3) && !w.isPaused(1));
  assert.equal(w.disk(2).getFaults().syncFailRate, undefined);
  assert.equal(w.network.getConfig().resetRate, undefined);
});

test('a swarm run: deterministic trace, then healAll and the cluster serves again (liveness)', () => {
  const run = (seed: number) => {
    const w = mkWorld(seed);
    const plan = planFaults({ rng: w.rngFor('nemesis-plan'), flags: ['swarm', ...ALL], nodeIds: IDS, durationMs: 8_000 });
    const sched = scheduleFaults(w, plan, { leaderOf: () => 1 });
    const acks: number[] = [];
    for (const id of IDS) client(w, id, acks);
    w.run({ untilMs: 8_000 });
    healAll(w, sched);
    const before = acks.length;
    w.run({ untilMs: 9_000 });
    for (const id of IDS) assert.ok(w.isUp(id) && !w.isPaused(id));
    assert.ok(acks.length - before > 100, `only ${acks.length - before} acks after heal`);
    return { hash: w.traceHash(), applied: sched.applied.length, events: plan.events.length };
  };
  const a = run(77);
  assert.deepEqual(run(77), a);
  assert.ok(a.applied > 10 && a.applied <= a.events);
  assert.notEqual(run(78).hash, a.hash);
});
