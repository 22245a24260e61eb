// Bounded randomized runs: per seed, a 3- or 5-voter quorum under message drops, partitions,
// crashes (torn/lost unsynced writes) and proposals (and in one test duplicated messages,
// delivered late and out of order: RAFT-15); the harness checks after every event that
// there is at most one leader per epoch (RAFT-1), committed entries never change (RAFT-2/3), the
// HW is monotonic per incarnation (RAFT-4), applied entries are committed ones (RAFT-12) and a
// read is ready only once its replica applied everything committed when it began (RAFT-11).
// Then a liveness phase: heal everything and require every replica to converge.
// Reproduce one seed: RAFT_SEED=17 node --import tsx --test core/raft/random.test.ts
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cluster } from './harness.test.ts';

const SEEDS = process.env.RAFT_SEED ? [Number(process.env.RAFT_SEED)] : Array.from({ length: 50 }, (_, i) => i + 1);

const runSeed = (seed: number, diskFaults = false, dups = false): { commits: number; epochs: number; events: number; failStops: number } => {
  const probe = new Cluster({ seed, n: 1 });
  const r = probe.rng;
  const n = r.chance(0.5) ? 3 : 5;
  let failStops = 0;
  const c = new Cluster({
    seed,
    n,
    dropRate: r.float() * 0.05,
    diskFaults: diskFaults
      ? { latencyMs: { min: 0.1, max: 1 }, tornWriteRate: 0.5, readErrorRate: 0.01, bitRotRate: 0.01, syncFailRate: 0.002, enospcRate: 0.001, slowRate: 0.01, slowMs: 30 }
      : undefined,
    cfg: { snapshotEveryEntries: r.int(5, 40), segmentMaxBytes: r.int(150, 2000), snapshotChunkBytes: r.int(16, 256), maxFetchEntries: r.int(1, 20) },
  });
  if (dups) c.dupRate = 0.02 + r.float() * 0.1;
  const down = new Map<number, number>(); // node -> restart time
  let proposed = 0;
  let token = 0;
  for (let round = 0; round < 150; round++) {
    c.runFor(20);
    const l = c.leader();
    if (l && r.chance(0.7)) for (let k = r.int(1, 3); k > 0; k--) c.propose(l.id, `s${seed}-${proposed++}`);
    // Reads (RAFT-11, checked by the harness) go to any replica that believes it leads: a deposed
    // leader cut off from the majority must not answer them.
    const leaders = c.alive().filter((s) => s.replica.role === 'leader');
    if (leaders.length > 0 && r.chance(0.3)) c.readIndex(leaders[r.int(0, leaders.length - 1)]!.id, ++token);
    for (const [id, at] of down) if (c.now >= at) { c.restart(id); down.delete(id); }
    // A replica that hit a disk error stops (fail-stop); its supervisor restarts the process.
    for (const s of c.alive()) if (s.replica.role === 'failed') { c.crash(s.id); down.set(s.id, c.now + 50); failStops++; }
    if (r.chance(0.04) && down.size < Math.floor((n - 1) / 2)) {
      const victim = r.int(1, n);
      if (c.node(victim).alive) { c.crash(victim); down.set(victim, c.now + r.int(50, 600)); }
    }
    if (r.chance(0.05)) c.isolate(r.int(1, n));
    if (r.chance(0.05)) c.partition(r.int(1, n), r.int(1, n));
    if (r.chance(0.08)) c.heal();
  }
  // Liveness: heal, restart, no drops; everyone converges on one leader's log.
  c.heal();
  c.dropRate = 0;
  c.dupRate = 0;
  for (const s of c.nodes.values()) s.disk.setFaults({ latencyMs: { min: 0.1, max: 1 } });
  for (const s of c.alive()) if (s.replica.role === 'failed') c.crash(s.id);
  for (const s of c.nodes.values()) c.restart(s.id);
  const ok = c.runUntil(() => {
    const l = c.leader();
    if (!l || l.replica.highWatermark !== l.replica.logEndOffset) return false;
    return c.alive().every((s) => s.replica.highWatermark === l.replica.logEndOffset && s.replica.appliedOffset === l.replica.logEndOffset);
  }, 20_000);
  if (!ok) {
    const state = [...c.nodes.values()].map((s) => `${s.id}:${s.replica.role}/e${s.replica.epoch}/end${s.replica.logEndOffset}/hw${s.replica.highWatermark}/rep${s.replica.repairTargetOffset}/${s.replica.failure ?? ''}`);
    assert.fail(`seed ${seed}: no convergence after healing: ${state.join(' ')} (reproduce with RAFT_SEED=${seed})`);
  }
  const l = c.leader()!;
  for (const s of c.alive()) {
    // The state machine of everyone holds the same committed sequence.
    assert.deepEqual(s.sm.values().slice(-5), l.sm.values().slice(-5), `seed ${seed}: node ${s.id} applied state differs`);
  }
  return { commits: l.replica.highWatermark, epochs: c.leaders.size, events: c.eventsRun, failStops };
};

test(`randomized: drops, partitions, crashes over ${SEEDS.length} seeds keep RAFT-1/2/3/4/11/12`, () => {
  let commits = 0;
  let epochs = 0;
  let events = 0;
  for (const seed of SEEDS) {
    try {
      const r = runSeed(seed);
      commits += r.commits;
      epochs += r.epochs;
      events += r.events;
    } catch (e) {
      throw new Error(`seed ${seed} failed (reproduce with RAFT_SEED=${seed}): ${(e as Error).message}`, { cause: e });
    }
  }
  assert.ok(commits > SEEDS.length * 10, `made progress: ${commits} commits`);
  assert.ok(epochs >= SEEDS.length, `elections happened: ${epochs} leader epochs`);
  process.stdout.write(`# randomized: seeds=${SEEDS.length} committed=${commits} leaderEpochs=${epochs} events=${events}\n`);
});

test(`randomized with disk faults (EIO, read rot, fsync failure, ENOSPC, slow I/O) over ${Math.min(SEEDS.length, 30)} seeds`, () => {
  let commits = 0;
  let failStops = 0;
  for (const seed of SEEDS.slice(0, 30)) {
    try {
      const r = runSeed(seed + 1000, true);
      commits += r.commits;
      failStops += r.failStops;
    } catch (e) {
      throw new Error(`seed ${seed + 1000} failed (disk faults): ${(e as Error).message}`, { cause: e });
    }
  }
  assert.ok(commits > 0, 'commits > 0');
  process.stdout.write(`# randomized+disk: committed=${commits} failStops=${failStops}\n`);
});

test(`randomized with duplicated messages (late, out of order) over ${Math.min(SEEDS.length, 30)} seeds keep RAFT-1/2/3/4/11/12 (RAFT-15)`, () => {
  let commits = 0;
  // Seeds 2041..2070: before RAFT-15, 2056 failed (a late DivergingEpoch answer asked a follower
  // to truncate below its HW; 6 of seeds 2001..2400 failed so, none since).
  for (const seed of SEEDS.slice(0, 30)) {
    try {
      commits += runSeed(seed + 2040, false, true).commits;
    } catch (e) {
      throw new Error(`seed ${seed + 2040} failed (duplicates): ${(e as Error).message}`, { cause: e });
    }
  }
  assert.ok(commits > 0, 'commits > 0');
  process.stdout.write(`# randomized+dups: committed=${commits}\n`);
});
