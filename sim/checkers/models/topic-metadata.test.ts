import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkOperations, checkOperationsWithStats, type Operation } from '../linearizability.ts';
import { topicMetadataModel, type TopicInput, type TopicOutput, type TopicState } from './topic-metadata.ts';
import { bruteForce } from '../brute-force.ts';

type Op = Operation<TopicInput, TopicOutput>;
const INF = Infinity;
let proc = 0;
const mk = (f: TopicInput['f'], name: string, output: TopicOutput | undefined, call: number, ret: number): Op => ({
  process: proc++, f, input: { f, name } as TopicInput, output: ret === INF ? undefined : output, call, ret,
});
const create = (name: string, id: string | null, call: number, ret: number): Op =>
  mk('create', name, id === null ? { ok: false, error: 'TOPIC_ALREADY_EXISTS' } : { ok: true, topicId: id }, call, ret);
const del = (name: string, ok: boolean, call: number, ret: number): Op =>
  mk('delete', name, ok ? { ok: true } : { ok: false, error: 'UNKNOWN_TOPIC_OR_PARTITION' }, call, ret);
const describe = (name: string, id: string | null, call: number, ret: number): Op =>
  mk('describe', name, id === null ? { exists: false } : { exists: true, topicId: id }, call, ret);
const check = (ops: Op[]) => checkOperations(topicMetadataModel, ops).result;

test('step semantics (TOPIC-1..3)', () => {
  const m = topicMetadataModel;
  const empty = m.init();
  const s1 = m.step(empty, { f: 'create', name: 't' }, { ok: true, topicId: 'A' });
  assert.equal(s1.ok, true);
  assert.equal(s1.state.topics.get('t'), 'A');
  assert.equal(m.step(s1.state, { f: 'create', name: 't' }, { ok: true, topicId: 'B' }).ok, false);
  assert.equal(m.step(s1.state, { f: 'create', name: 't' }, { ok: false, error: 'TOPIC_ALREADY_EXISTS' }).ok, true);
  assert.equal(m.step(empty, { f: 'create', name: 't' }, { ok: false, error: 'TOPIC_ALREADY_EXISTS' }).ok, false);
  assert.equal(m.step(s1.state, { f: 'describe', name: 't' }, { exists: true, topicId: 'B' }).ok, false);
  assert.equal(m.step(s1.state, { f: 'describe', name: 't' }, { exists: false }).ok, false);
  assert.equal(m.step(empty, { f: 'delete', name: 't' }, { ok: true }).ok, false);
  assert.equal(m.step(s1.state, { f: 'delete', name: 't' }, { ok: true }).state.topics.has('t'), false);
  assert.equal(m.step(empty, { f: 'delete', name: 't' }, { ok: false, error: 'UNKNOWN_TOPIC_OR_PARTITION' }).ok, true);
  // unknown outcomes
  const info = m.step(empty, { f: 'create', name: 't' }, undefined);
  assert.equal(info.ok, true);
  assert.equal(info.state.topics.get('t'), null, 'present with an unknown id');
  const pinned = m.step(info.state, { f: 'describe', name: 't' }, { exists: true, topicId: 'Z' });
  assert.equal(pinned.ok, true);
  assert.equal(pinned.state.topics.get('t'), 'Z');
  assert.equal(pinned.state.issuedIds.has('Z'), true);
  assert.equal(m.equal(pinned.state, info.state), false);
  // malformed outputs and inputs are rejected, not thrown
  assert.equal(m.step(empty, { f: 'create', name: 't' }, { exists: false } as TopicOutput).ok, false);
  assert.equal(m.step(empty, { f: 'rename', name: 't' } as unknown as TopicInput, { ok: true }).ok, false);
  assert.equal(m.step(empty, null as unknown as TopicInput, { ok: true }).ok, false);
});

test('known-good topic histories', () => {
  assert.equal(check([describe('t', null, 0, 1), create('t', 'A', 2, 3), describe('t', 'A', 4, 5), create('t', null, 6, 7), del('t', true, 8, 9), describe('t', null, 10, 11), del('t', false, 12, 13), create('t', 'B', 14, 15)]), 'ok');
  // concurrent creates: one wins, the other sees it exists
  assert.equal(check([create('t', 'A', 0, 10), create('t', null, 0, 10), describe('t', 'A', 11, 12)]), 'ok');
  // a describe concurrent with create may see either state
  assert.equal(check([create('t', 'A', 0, 10), describe('t', null, 2, 3), describe('t', 'A', 4, 5)]), 'ok');
});

test('two creates of the same topic both succeeding is illegal', () => {
  assert.equal(check([create('t', 'A', 0, 10), create('t', 'B', 0, 10)]), 'illegal');
  assert.equal(check([create('t', 'A', 0, 10), create('t', 'A', 20, 30)]), 'illegal');
  // ... but fine for different topics (partitioned per name, TOPIC-4)
  const res = checkOperationsWithStats(topicMetadataModel, [create('t', 'A', 0, 10), create('u', 'B', 0, 10)]);
  assert.deepEqual(res.result, { result: 'ok' });
  assert.equal(res.parts, 2);
});

test('a deleted topic reappearing is illegal', () => {
  assert.equal(check([create('t', 'A', 0, 1), del('t', true, 2, 3), describe('t', 'A', 4, 5)]), 'illegal');
  assert.equal(check([create('t', 'A', 0, 1), del('t', true, 2, 3), create('t', null, 4, 5)]), 'illegal');
  const res = checkOperations(topicMetadataModel, [create('t', 'A', 0, 1), create('u', 'B', 0, 1), del('u', true, 2, 3), describe('u', 'B', 4, 5)]);
  assert.equal(res.result, 'illegal');
  if (res.result === 'illegal') {
    assert.equal(res.partIndex, 1);
    assert.match(res.unlinearizable[0], /describe .*"u".* -> \{"exists":true,"topicId":"B"\}/);
  }
});

test('stale describe after a completed delete or create is illegal', () => {
  assert.equal(check([create('t', 'A', 0, 1), describe('t', null, 2, 3)]), 'illegal');
  assert.equal(check([create('t', 'A', 0, 1), describe('t', 'B', 2, 3)]), 'illegal');
  assert.equal(check([describe('t', 'A', 0, 1), create('t', 'A', 2, 3)]), 'illegal', 'seen before it was created');
});

test('info creates and deletes: happened, not happened, unknown ids pinned by a describe', () => {
  assert.equal(check([create('t', 'A', 0, INF), describe('t', 'X', 5, 6)]), 'ok', 'id unknown, pinned to X');
  assert.equal(check([create('t', 'A', 0, INF), describe('t', null, 5, 6)]), 'ok', 'not happened (yet)');
  assert.equal(check([create('t', 'A', 0, INF), describe('t', 'X', 5, 6), describe('t', 'Y', 7, 8)]), 'illegal', 'pinned id cannot change');
  assert.equal(check([create('t', 'A', 0, INF), describe('t', 'X', 5, 6), describe('t', null, 7, 8)]), 'illegal', 'cannot un-happen');
  assert.equal(check([create('t', 'A', 0, INF), create('t', 'B', 5, 6)]), 'ok', 'info create assumed not happened');
  assert.equal(check([create('t', 'A', 0, INF), create('t', null, 5, 6)]), 'ok', 'info create assumed happened');
  assert.equal(check([create('t', 'A', 0, 1), del('t', true, 2, INF), describe('t', null, 5, 6)]), 'ok');
  assert.equal(check([create('t', 'A', 0, 1), del('t', true, 2, INF), describe('t', 'A', 5, 6)]), 'ok');
  assert.equal(check([create('t', 'A', 0, 1), del('t', true, 2, INF), describe('t', null, 5, 6), describe('t', 'A', 7, 8)]), 'illegal');
  assert.equal(check([create('t', 'A', 0, 1), describe('t', 'A', 2, INF), del('t', false, 5, 6)]), 'illegal', 'an info describe changes nothing');
});

// ---- generated histories -------------------------------------------------------------------

interface Planned { f: TopicInput['f']; name: string; a: number; b: number; fate: 'ok' | 'info' | 'infoNot' }
const planned = fc.record({
  f: fc.constantFrom<TopicInput['f']>('create', 'delete', 'describe'),
  name: fc.constantFrom('t', 'u'),
  a: fc.integer({ min: 1, max: 250 }),
  b: fc.integer({ min: 0, max: 250 }),
  fate: fc.constantFrom<Planned['fate']>('ok', 'ok', 'ok', 'info', 'infoNot'),
}) as fc.Arbitrary<Planned>;

/** Runs the plan atomically (op i at i*100) against a real topic table; one process per op. */
function execute(plan: Planned[]): Op[] {
  const table = new Map<string, string>();
  let nextId = 0;
  return plan.map((p, i) => {
    const applied = p.fate !== 'infoNot' || p.f === 'describe';
    const cur = table.get(p.name);
    let output: TopicOutput;
    if (p.f === 'create') {
      const id = `id${nextId++}`;
      output = cur === undefined ? { ok: true, topicId: id } : { ok: false, error: 'TOPIC_ALREADY_EXISTS' };
      if (applied && cur === undefined) table.set(p.name, id);
    } else if (p.f === 'delete') {
      output = cur === undefined ? { ok: false, error: 'UNKNOWN_TOPIC_OR_PARTITION' } : { ok: true };
      if (applied) table.delete(p.name);
    } else {
      output = cur === undefined ? { exists: false } : { exists: true, topicId: cur };
    }
    const ret = p.fate === 'ok' ? i * 100 + p.b : INF;
    return { process: i, f: p.f, input: { f: p.f, name: p.name } as TopicInput, output: ret === INF ? undefined : output, call: i * 100 - p.a, ret };
  });
}

test('property: topic histories of a real atomic execution are ok; a changed describe id is illegal', () => {
  fc.assert(
    fc.property(fc.array(planned, { minLength: 1, maxLength: 30 }), fc.nat(), (plan, pick) => {
      const ops = execute(plan);
      assert.deepEqual(checkOperations(topicMetadataModel, ops), { result: 'ok' });
      // Only topics without info creates: an info create's unknown id may legally be pinned to
      // any value by a describe (see the model's header), so the mutation would not be illegal.
      const unsure = new Set(ops.filter((o) => o.f === 'create' && o.output === undefined).map((o) => o.input.name));
      const seen = ops.map((o, i) => i).filter((i) => !unsure.has(ops[i].input.name) && ops[i].output !== undefined && 'exists' in ops[i].output! && (ops[i].output as { exists: boolean }).exists);
      if (seen.length === 0) return;
      const i = seen[pick % seen.length];
      ops[i] = { ...ops[i], output: { exists: true, topicId: 'never-issued' } };
      assert.equal(checkOperations(topicMetadataModel, ops).result, 'illegal');
    }),
    { numRuns: 300, seed: 0x70b1c },
  );
});

test('hash agrees with equal', () => {
  const st = (topics: [string, string | null][], ids: string[]): TopicState => ({ topics: new Map(topics), issuedIds: new Set(ids) });
  const a = st([['t', 'A'], ['u', null]], ['A', 'B']);
  const b = st([['u', null], ['t', 'A']], ['B', 'A']);
  assert.equal(topicMetadataModel.hash!(a), topicMetadataModel.hash!(b));
  assert.equal(topicMetadataModel.equal(a, b), true);
  assert.equal(topicMetadataModel.equal(a, st([['t', 'A'], ['u', 'B']], ['A', 'B'])), false);
  assert.equal(topicMetadataModel.equal(a, st([['t', 'A'], ['u', null]], ['A'])), false);
});

test('TOPIC-5: an id is issued by one create only', () => {
  assert.equal(check([create('t', 'A', 0, 1), del('t', true, 2, 3), create('t', 'A', 4, 5)]), 'illegal');
  assert.equal(check([create('t', 'A', 0, 1), del('t', true, 2, 3), create('t', 'B', 4, 5)]), 'ok');
  // an info create's unknown id, once pinned, is spent too
  assert.equal(check([create('t', 'A', 0, INF), describe('t', 'X', 5, 6), del('t', true, 7, 8), create('t', 'X', 9, 10)]), 'illegal');
  assert.equal(check([create('t', 'X', 0, 1), del('t', true, 2, 3), create('t', 'A', 4, INF), describe('t', 'X', 5, 6)]), 'illegal');
});

// ---- cross-check against brute force ---------------------------------------------------------

test('property: topic search agrees with brute force on small random histories', () => {
  const outputs: Record<TopicInput['f'], TopicOutput[]> = {
    create: [{ ok: true, topicId: 'A' }, { ok: true, topicId: 'B' }, { ok: false, error: 'TOPIC_ALREADY_EXISTS' }],
    delete: [{ ok: true }, { ok: false, error: 'UNKNOWN_TOPIC_OR_PARTITION' }],
    describe: [{ exists: false }, { exists: true, topicId: 'A' }, { exists: true, topicId: 'B' }, { exists: true, topicId: 'C' }],
  };
  const spec = fc.record({
    f: fc.constantFrom<TopicInput['f']>('create', 'delete', 'describe'),
    call: fc.integer({ min: 0, max: 30 }), len: fc.integer({ min: 0, max: 15 }),
    pick: fc.nat(), info: fc.integer({ min: 0, max: 4 }).map((x) => x === 0),
  });
  let illegal = 0;
  fc.assert(
    fc.property(fc.array(spec, { minLength: 1, maxLength: 7 }), (specs) => {
      const ops: Op[] = specs.map((s, i) => {
        const choices = outputs[s.f];
        const ret = s.info ? INF : s.call + s.len;
        return { process: i, f: s.f, input: { f: s.f, name: 't' } as TopicInput, output: s.info ? undefined : choices[s.pick % choices.length], call: s.call, ret };
      });
      const expected = bruteForce(topicMetadataModel, ops);
      if (!expected) illegal++;
      assert.equal(check(ops), expected ? 'ok' : 'illegal');
    }),
    { numRuns: 500, seed: 0x70b1d },
  );
  assert.ok(illegal > 50, `enough illegal cases (${illegal})`);
});
