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
// with id X pins the id to X from then on; a later create must fail while it is present, a
// delete removes it. "The info create never happened" is the checker placing it after every
// other op (LIN-3). An info delete removes the topic if present; an info describe constrains
// nothing.
//
// Invariants:
//  TOPIC-1  a create succeeds only on an absent topic and sets exactly the id it returned;
//           a create on a present topic returns TOPIC_ALREADY_EXISTS.
//  TOPIC-2  a delete succeeds only on a present topic and makes it absent; otherwise
//           UNKNOWN_TOPIC_OR_PARTITION.
//  TOPIC-3  a describe returns the current state exactly (existence and id).
//  TOPIC-4  topics with different names are independent: the model partitions by name.
// Not checked here: that ids differ per create (a check over all ok creates does that more
// cheaply), nor that an unknown id pinned by a describe differs from the ids of acknowledged
// creates: the model accepts such a history.

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

/** Present topics by name: the topicId, or null when it is not known yet. Absent = missing. */
export type TopicState = ReadonlyMap<string, string | null>;

type Step = { ok: boolean; state: TopicState };

const with_ = (s: TopicState, name: string, id: string | null): TopicState => new Map(s).set(name, id);
const without = (s: TopicState, name: string): TopicState => {
  const next = new Map(s);
  next.delete(name);
  return next;
};

function stepCreate(s: TopicState, name: string, out: TopicOutput | undefined): Step {
  const present = s.has(name);
  if (out === undefined) return { ok: true, state: present ? s : with_(s, name, null) };
  if ('ok' in out && out.ok === true && 'topicId' in out && typeof out.topicId === 'string') {
    return { ok: !present, state: with_(s, name, out.topicId) };
  }
  if ('ok' in out && out.ok === false && out.error === 'TOPIC_ALREADY_EXISTS') return { ok: present, state: s };
  return { ok: false, state: s };
}

function stepDelete(s: TopicState, name: string, out: TopicOutput | undefined): Step {
  const present = s.has(name);
  if (out === undefined) return { ok: true, state: present ? without(s, name) : s };
  if ('ok' in out && out.ok === true && !('topicId' in out)) return { ok: present, state: without(s, name) };
  if ('ok' in out && out.ok === false && out.error === 'UNKNOWN_TOPIC_OR_PARTITION') return { ok: !present, state: s };
  return { ok: false, state: s };
}

function stepDescribe(s: TopicState, name: string, out: TopicOutput | undefined): Step {
  if (out === undefined) return { ok: true, state: s };
  if (!('exists' in out)) return { ok: false, state: s };
  if (out.exists === false) return { ok: !s.has(name), state: s };
  if (typeof out.topicId !== 'string' || !s.has(name)) return { ok: false, state: s };
  const id = s.get(name);
  if (id === null) return { ok: true, state: with_(s, name, out.topicId) }; // pin the unknown id
  return { ok: id === out.topicId, state: s };
}

function topicHash(s: TopicState): string {
  return [...s.entries()].map(([k, v]) => `${JSON.stringify(k)}=${v === null ? '?' : JSON.stringify(v)}`).sort().join(';');
}

export const topicMetadataModel: Model<TopicState, TopicInput, TopicOutput> = {
  init: () => new Map(),
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
