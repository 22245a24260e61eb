// sim/checkers/models/topic-metadata.ts: the sequential model of Cairn's controller topic metadata.
//
// Owns: what a linearizable controller may answer to create / delete / describe of topics.
// Ops carry `f` in their input: history.invoke(p, 'create', { f: 'create', name: 't' }, now).
//  - { f: 'create', name }   -> { ok: true, topicId } | { ok: false, error: 'TOPIC_ALREADY_EXISTS' }
//  - { f: 'delete', name }   -> { ok: true } | { ok: false, error: 'UNKNOWN_TOPIC_OR_PARTITION' }
//  - { f: 'describe', name } -> { exists: false } | { exists: true, topicId }
// Errors that mean "definitely not applied" for another reason (NOT_CONTROLLER, ...) must be
// recorded as `fail`; timeouts as `info`. Any other output is rejected by step (so it surfaces
// as 'illegal' with its description instead of passing silently).
//
// State per topic: absent, or present with a topicId, or present with an UNKNOWN id (null).
// Unknown ids come from info creates: an info create applied to an absent topic makes it present
// with id null ("created, we never learnt the id"). A later describe that returns exists=true
// with id X pins the id to X from then on (the state becomes present-with-X); a later create must
// fail while it is present, a delete removes it. "The info create never happened" is the checker
// placing it after every other op (LIN-3). An info delete removes the topic if present; an info
// describe constrains nothing (and is left out of the search by partition).
// The state also remembers every id already issued in this linearization (by ok creates and by
// pins), because ids differ per create: a create or a pin reusing one is rejected.
//
// Invariants:
//  TOPIC-1  a create succeeds only on an absent topic and sets exactly the id it returned;
//           a create on a present topic returns TOPIC_ALREADY_EXISTS.
//  TOPIC-2  a delete succeeds only on a present topic and makes it absent; otherwise
//           UNKNOWN_TOPIC_OR_PARTITION.
//  TOPIC-3  a describe returns the current state exactly (existence and id).
//  TOPIC-4  topics with different names are independent: the model partitions by name.
//  TOPIC-5  no two creates yield the same id (within one name; across names, ids are not
//           compared, because partitions are checked apart).
// Not detectable: an info create's id is unknown, so a describe may pin it to any id not issued
// otherwise; a history whose only wrong answer is such an id passes.

import type { Model } from '../linearizability.ts';
import type { Operation } from '../../history.ts';
import { partitionBy } from './partition-by.ts';

export type TopicInput =
  | { f: 'create'; name: string }
  | { f: 'delete'; name: string }
  | { f: 'describe'; name: string };

export type TopicOutput =
  | { ok: true; topicId: string }
  | { ok: false; error: 'TOPIC_ALREADY_EXISTS' }
  | { ok: true }
  | { ok: false; error: 'UNKNOWN_TOPIC_OR_PARTITION' }
  | { exists: false }
  | { exists: true; topicId: string };

/**
 * Present topics by name (the topicId, or null while unknown; absent = missing), and every id
 * issued so far in this linearization (TOPIC-5).
 */
export interface TopicState {
  readonly topics: ReadonlyMap<string, string | null>;
  readonly issuedIds: ReadonlySet<string>;
}

type Step = { ok: boolean; state: TopicState };

function withTopic(s: TopicState, name: string, id: string | null): TopicState {
  const topics = new Map(s.topics).set(name, id);
  return { topics, issuedIds: id === null ? s.issuedIds : new Set(s.issuedIds).add(id) };
}

function withoutTopic(s: TopicState, name: string): TopicState {
  const topics = new Map(s.topics);
  topics.delete(name);
  return { topics, issuedIds: s.issuedIds };
}

function stepCreate(s: TopicState, name: string, out: TopicOutput | undefined): Step {
  const present = s.topics.has(name);
  if (out === undefined) return { ok: true, state: present ? s : withTopic(s, name, null) };
  if ('ok' in out && out.ok === true && 'topicId' in out && typeof out.topicId === 'string') {
    return { ok: !present && !s.issuedIds.has(out.topicId), state: withTopic(s, name, out.topicId) };
  }
  if ('ok' in out && out.ok === false && out.error === 'TOPIC_ALREADY_EXISTS') return { ok: present, state: s };
  return { ok: false, state: s };
}

function stepDelete(s: TopicState, name: string, out: TopicOutput | undefined): Step {
  const present = s.topics.has(name);
  if (out === undefined) return { ok: true, state: present ? withoutTopic(s, name) : s };
  if ('ok' in out && out.ok === true && !('topicId' in out)) return { ok: present, state: withoutTopic(s, name) };
  if ('ok' in out && out.ok === false && out.error === 'UNKNOWN_TOPIC_OR_PARTITION') return { ok: !present, state: s };
  return { ok: false, state: s };
}

function stepDescribe(s: TopicState, name: string, out: TopicOutput | undefined): Step {
  if (out === undefined) return { ok: true, state: s };
  if (!('exists' in out)) return { ok: false, state: s };
  if (out.exists === false) return { ok: !s.topics.has(name), state: s };
  if (typeof out.topicId !== 'string' || !s.topics.has(name)) return { ok: false, state: s };
  const id = s.topics.get(name);
  if (id === null) return { ok: !s.issuedIds.has(out.topicId), state: withTopic(s, name, out.topicId) }; // pin
  return { ok: id === out.topicId, state: s };
}

function topicHash(s: TopicState): string {
  const topics = [...s.topics.entries()].map(([k, v]) => `${JSON.stringify(k)}=${v === null ? '?' : JSON.stringify(v)}`);
  const ids = [...s.issuedIds].map((id) => JSON.stringify(id));
  return `${topics.sort().join(';')}#${ids.sort().join(';')}`;
}

export const topicMetadataModel: Model<TopicState, TopicInput, TopicOutput> = {
  init: () => ({ topics: new Map(), issuedIds: new Set() }),
  step(state, input, output) {
    if (typeof input?.name !== 'string') return { ok: false, state };
    switch (input.f) {
      case 'create': return stepCreate(state, input.name, output);
      case 'delete': return stepDelete(state, input.name, output);
      case 'describe': return stepDescribe(state, input.name, output);
      default: return { ok: false, state };
    }
  },
  equal: (a, b) => topicHash(a) === topicHash(b),
  hash: topicHash,
  // Describes with an unknown output constrain nothing: left out of the search (LIN-4 allows it).
  partition: (ops: Operation<TopicInput, TopicOutput>[]) =>
    partitionBy(ops.filter((op) => !(op.input?.f === 'describe' && op.output === undefined)), (op) => String(op.input?.name)),
};
