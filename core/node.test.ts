// The controller node on a fault-free simulated cluster: the admin front door's contract
// (NODE-1..5), exercised through real raft replication and a real simulated disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World } from '../sim/world.ts';
import { ControllerNode, type ControllerRequest, type ControllerResponse } from './node.ts';
import { ErrorCode } from './errors.ts';
import type { RaftMessage } from './raft/messages.ts';

const IDS = [1, 2, 3];

const cluster = (seed = 1) => {
  const world = new World<RaftMessage, ControllerRequest, ControllerResponse>({
    seed,
    nodeIds: IDS,
    makeNode: (id) =>
      new ControllerNode({
        raft: { nodeId: id, voters: IDS, dir: 'meta', electionTimeoutMs: 500, fetchTimeoutMs: 1000, fetchMaxWaitMs: 200, snapshotEveryEntries: 20, maxFetchEntries: 16, snapshotChunkBytes: 256 },
      }),
  });
  const leader = (): ControllerNode | undefined =>
    IDS.map((id) => world.machine(id) as ControllerNode | undefined).find((m) => m?.writable);
  const call = (node: number, request: ControllerRequest): ControllerResponse | undefined => {
    let res: ControllerResponse | undefined;
    const conn = world.connect(node, { onReply: (_c, r) => (res = r), onClose: () => {} });
    world.request(conn, 1, request);
    world.runUntil(() => res !== undefined, world.now() + 5_000);
    world.disconnect(conn);
    return res;
  };
  world.runUntil(() => leader() !== undefined, 10_000);
  return { world, leader, call };
};

const register = (call: ReturnType<typeof cluster>['call'], leaderId: number): void => {
  for (const brokerId of [101, 102, 103]) {
    const r = call(leaderId, { kind: 'write', command: { kind: 'registerBroker', brokerId, incarnationId: String(brokerId).padStart(32, '0'), endpoints: [] } });
    assert.ok(r?.ok, JSON.stringify(r));
    const epoch = (r.result as { brokerEpoch: number }).brokerEpoch;
    const u = call(leaderId, { kind: 'write', command: { kind: 'unfenceBroker', brokerId, brokerEpoch: epoch } });
    assert.ok(u?.ok, JSON.stringify(u));
  }
};

test('a leader is elected and accepts writes; reads see committed writes (NODE-1, NODE-4)', () => {
  const { leader, call } = cluster();
  const l = leader();
  assert.ok(l, 'a writable leader');
  register(call, l.nodeId);
  const created = call(l.nodeId, { kind: 'write', command: { kind: 'createTopic', name: 'orders', numPartitions: 3, replicationFactor: 3 } });
  assert.ok(created?.ok);
  const topicId = (created.result as { topicId: string }).topicId;
  const described = call(l.nodeId, { kind: 'read', query: { kind: 'describeTopic', name: 'orders' } });
  assert.ok(described?.ok);
  assert.equal((described.result as { topicId: string }).topicId, topicId);
  // every replica applied it
  for (const id of IDS) {
    const r = call(id, { kind: 'read', query: { kind: 'listTopics' } });
    if (id === l.nodeId) assert.ok(r?.ok);
    else assert.equal(r?.ok, false);
  }
});

test('followers answer NOT_CONTROLLER with the leader id; malformed requests get INVALID_REQUEST', () => {
  const { leader, call } = cluster(2);
  const l = leader()!;
  const follower = IDS.find((id) => id !== l.nodeId)!;
  const r = call(follower, { kind: 'write', command: { kind: 'createTopic', name: 'x', numPartitions: 1, replicationFactor: 1 } });
  assert.equal(r?.ok, false);
  assert.equal(!r.ok && r.errorCode, ErrorCode.NOT_CONTROLLER);
  assert.equal(!r.ok && r.leaderId, l.nodeId);
  const bad = call(l.nodeId, { kind: 'bogus' } as unknown as ControllerRequest);
  assert.equal(!bad?.ok && bad?.errorCode, ErrorCode.INVALID_REQUEST);
  const nul = call(l.nodeId, null as unknown as ControllerRequest);
  assert.equal(!nul?.ok && nul?.errorCode, ErrorCode.INVALID_REQUEST);
});

test('validation errors are answered, linearizably, after a read index (NODE-5)', () => {
  const { leader, call } = cluster(3);
  const l = leader()!;
  register(call, l.nodeId);
  assert.ok(call(l.nodeId, { kind: 'write', command: { kind: 'createTopic', name: 't', numPartitions: 1, replicationFactor: 2 } })?.ok);
  const dup = call(l.nodeId, { kind: 'write', command: { kind: 'createTopic', name: 't', numPartitions: 1, replicationFactor: 2 } });
  assert.equal(!dup?.ok && dup?.errorCode, 36); // TOPIC_ALREADY_EXISTS
  const rf = call(l.nodeId, { kind: 'write', command: { kind: 'createTopic', name: 'u', numPartitions: 1, replicationFactor: 9 } });
  assert.equal(!rf?.ok && rf?.errorCode, 38); // INVALID_REPLICATION_FACTOR
  const name = call(l.nodeId, { kind: 'write', command: { kind: 'createTopic', name: 'bad/name', numPartitions: 1, replicationFactor: 1 } });
  assert.equal(!name?.ok && name?.errorCode, 17); // INVALID_TOPIC_EXCEPTION
  const del = call(l.nodeId, { kind: 'write', command: { kind: 'deleteTopic', name: 'nope' } });
  assert.equal(!del?.ok && del?.errorCode, 3); // UNKNOWN_TOPIC_OR_PARTITION
});

test('a leader crash: the survivors elect a new leader that still serves every committed topic', () => {
  const { world, leader, call } = cluster(4);
  const l = leader()!;
  register(call, l.nodeId);
  for (const name of ['a', 'b', 'c']) assert.ok(call(l.nodeId, { kind: 'write', command: { kind: 'createTopic', name, numPartitions: 1, replicationFactor: 3 } })?.ok);
  world.crash(l.nodeId);
  world.runUntil(() => leader() !== undefined, world.now() + 10_000);
  const next = leader();
  assert.ok(next && next.nodeId !== l.nodeId, 'a new leader');
  const list = call(next.nodeId, { kind: 'read', query: { kind: 'listTopics' } });
  assert.ok(list?.ok);
  assert.deepEqual((list.result as { topics: { name: string }[] }).topics.map((t) => t.name), ['a', 'b', 'c']);
  world.restart(l.nodeId);
  world.run({ untilMs: world.now() + 3_000 });
  const old = world.machine(l.nodeId) as ControllerNode;
  assert.equal(old.raft.role, 'follower');
  assert.equal(old.metadata.image.topicIdsByName.size, 3);
});

// Found in review: only request.kind was checked. A write without a command, or a command or
// query of an unknown kind, threw out of step; a bad query threw inside raft's readReady, leaving
// the replica mid-step, and every later step on that node failed as re-entrant.
test('malformed client requests get INVALID_REQUEST; the leader goes on serving', () => {
  const { world, leader, call } = cluster();
  const l = leader()!;
  const bad = [
    { kind: 'write' },
    { kind: 'write', command: null },
    { kind: 'write', command: { kind: 'bogus' } },
    { kind: 'read' },
    { kind: 'read', query: { kind: 'bogus' } },
    { kind: 'read', query: { kind: 7 } },
  ];
  for (const req of bad) {
    const r = call(l.nodeId, req as unknown as ControllerRequest);
    assert.ok(r !== undefined && !r.ok && r.errorCode === ErrorCode.INVALID_REQUEST, `${JSON.stringify(req)}: ${JSON.stringify(r)}`);
  }
  world.runUntil(() => false, world.now() + 2_000); // no throw, no wedged replica
  const ok = call(l.nodeId, { kind: 'read', query: { kind: 'listTopics' } });
  assert.ok(ok?.ok, JSON.stringify(ok));
});

// NODE-1/2 (found in review): raft does not apply control entries, and only onApply answered
// writes, so an old leader's write whose offset a new leader's LeaderChange entry took was never
// answered; a re-elected leader's new proposal at a reused offset also overwrote its old waiter.
test('every write is answered exactly once, its offset taken by a new leader or not', () => {
  const { world } = cluster(3);
  const m = (id: number): ControllerNode => world.machine(id) as ControllerNode;
  const a = IDS.find((id) => m(id)?.writable)!;
  const others = IDS.filter((i) => i !== a);
  const replies = new Map<number, ControllerResponse[]>();
  const conn = world.connect(a, { onReply: (c, r) => replies.set(c, [...(replies.get(c) ?? []), r]), onClose: () => {} });
  world.network.partition([[a], others]); // the client still reaches the old leader
  for (const corr of [1, 2, 3]) world.request(conn, corr, { kind: 'write', command: { kind: 'noOp' } });
  world.run({ untilMs: world.now() + 100 });
  assert.ok(world.runUntil(() => others.some((i) => m(i).writable), world.now() + 10_000), 'a new leader');
  world.network.heal();
  world.run({ untilMs: world.now() + 10_000 });
  for (const corr of [1, 2, 3]) assert.equal(replies.get(corr)?.length, 1, `write ${corr}: ${JSON.stringify(replies.get(corr))}`);
});

test('a command whose records would not fit one raft entry is refused (found in review)', () => {
  const { leader, call } = cluster();
  const host = 'h'.repeat(32767);
  const endpoints = Array.from({ length: 2100 }, (_, i) => ({ name: `e${i}`, host, port: 9092, securityProtocol: 0 }));
  const r = call(leader()!.nodeId, { kind: 'write', command: { kind: 'registerBroker', brokerId: 1, incarnationId: '1'.repeat(32), endpoints } });
  assert.ok(r !== undefined && !r.ok && r.errorCode === ErrorCode.INVALID_REQUEST, JSON.stringify(r)?.slice(0, 200));
});
