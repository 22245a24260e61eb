// sim/history.ts: the Jepsen-style client history recorder of the simulator.
//
// Owns: the ordered list of client events (invoke / ok / fail / info) recorded by workloads, and
// their pairing into operations for the checkers (sim/checkers/linearizability.ts).
//
// Event semantics (as in Jepsen):
//  - `invoke`: a client process starts an operation `f` with input `value`.
//  - `ok`: it completed and definitely took effect; `value` is the output.
//  - `fail`: it definitely did NOT take effect (e.g. NOT_CONTROLLER before anything was written);
//    failed operations are dropped by toOperations().
//  - `info`: the outcome is unknown (timeout, connection reset): it may or may not have taken
//    effect, at any point after its call. The process is then retired: the client continues
//    under a fresh process id, because the old one may still have an op in flight.
//
// Invariants (our own bugs if broken; they throw):
//  HIST-1  a process has at most one outstanding operation; completions match an open invoke.
//  HIST-2  a retired process (one that completed with `info`) never invokes again.
//  HIST-3  event times are finite simulated milliseconds and never decrease in record order.
//
// Operation times: `call`/`ret` are simulated ms by default. The checker treats a return and a
// call with the same ms as concurrent (the conservative choice). When the driver records events
// in their true causal order, toOperations({ clock: 'sequence' }) uses the event's position in
// the history instead, which orders events that share a millisecond.
//
// Operations whose outcome is unknown (`info`, or still open when the history ends) get
// `ret = Infinity` and `output = undefined`.

/**
 * The process id a client continues under after an info retired `process` (Jepsen's convention:
 * with `clients` clients numbered 0..clients-1, `process % clients` is always the client).
 */
export function successorProcess(process: number, clients: number): number {
  if (!Number.isSafeInteger(clients) || clients < 1) throw new Error(`history: bad client count ${clients}`);
  assertProcess(process);
  return process + clients;
}

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

export interface HistoryEvent {
  readonly type: EventType;
  readonly process: number;
  readonly f: string;
  readonly value: unknown;
  readonly time: number;
}

export interface Operation<I = unknown, O = unknown> {
  readonly process: number;
  readonly f: string;
  readonly input: I;
  /** undefined when the outcome is unknown (info or still open). */
  readonly output: O | undefined;
  /** call time (simulated ms, or event position with clock 'sequence'). */
  readonly call: number;
  /** return time; Infinity when the outcome is unknown. */
  readonly ret: number;
}

export interface ToOperationsOptions {
  /** 'time' (default): call/ret are simulated ms. 'sequence': positions in the event list. */
  readonly clock?: 'time' | 'sequence';
}

export class History {
  readonly #events: HistoryEvent[] = [];
  /** process -> f of its open invoke */
  readonly #open = new Map<number, string>();
  readonly #retired = new Set<number>();
  #lastTime = -Infinity;

  /** Rebuilds a history from recorded events, checking the same invariants as recording. */
  static fromEvents(events: readonly HistoryEvent[]): History {
    const history = new History();
    for (const e of events) {
      if (e.type === 'invoke') history.invoke(e.process, e.f, e.value, e.time);
      else history.#complete(e.type, e.process, e.value, e.time);
    }
    return history;
  }

  invoke(process: number, f: string, value: unknown, time: number): void {
    this.#checkTime(time);
    assertProcess(process);
    if (this.#retired.has(process)) throw new Error(`HIST-2: process ${process} was retired by an info`);
    if (this.#open.has(process)) throw new Error(`HIST-1: process ${process} already has an op open`);
    if (typeof f !== 'string' || f.length === 0) throw new Error('history: f must be a non-empty string');
    this.#open.set(process, f);
    this.#events.push({ type: 'invoke', process, f, value, time });
  }

  ok(process: number, value: unknown, time: number): void {
    this.#complete('ok', process, value, time);
  }

  fail(process: number, value: unknown, time: number): void {
    this.#complete('fail', process, value, time);
  }

  info(process: number, value: unknown, time: number): void {
    this.#complete('info', process, value, time);
  }

  /** True when `process` has an invoke without a completion. */
  isOpen(process: number): boolean {
    return this.#open.has(process);
  }

  /** True when `process` completed with info and may not be used again. */
  isRetired(process: number): boolean {
    return this.#retired.has(process);
  }

  get length(): number {
    return this.#events.length;
  }

  events(): readonly HistoryEvent[] {
    return this.#events.slice();
  }

  /** Pairs invokes with completions, in invoke order; fail ops are dropped. */
  toOperations(opts: ToOperationsOptions = {}): Operation[] {
    const bySequence = opts.clock === 'sequence';
    const calls = new Map<number, number>(); // process -> event index of its open invoke
    const done = new Map<number, number>(); // invoke event index -> completion event index
    this.#events.forEach((e, i) => {
      if (e.type === 'invoke') {
        calls.set(e.process, i);
        return;
      }
      const callIndex = calls.get(e.process);
      if (callIndex === undefined) throw new Error(`HIST-1: completion without invoke at ${i}`);
      calls.delete(e.process);
      done.set(callIndex, i);
    });
    const ops: Operation[] = [];
    this.#events.forEach((e, i) => {
      if (e.type !== 'invoke') return;
      const doneIndex = done.get(i);
      const completion = doneIndex === undefined ? undefined : this.#events[doneIndex];
      if (completion?.type === 'fail') return;
      const known = completion?.type === 'ok';
      const call = bySequence ? i : e.time;
      const ret = known ? (bySequence ? doneIndex! : completion!.time) : Infinity;
      ops.push({ process: e.process, f: e.f, input: e.value, output: known ? completion!.value : undefined, call, ret });
    });
    return ops;
  }

  #complete(type: Exclude<EventType, 'invoke'>, process: number, value: unknown, time: number): void {
    this.#checkTime(time);
    assertProcess(process);
    const f = this.#open.get(process);
    if (f === undefined) throw new Error(`HIST-1: ${type} for process ${process} with no open op`);
    this.#open.delete(process);
    if (type === 'info') this.#retired.add(process);
    this.#events.push({ type, process, f, value, time });
  }

  #checkTime(time: number): void {
    if (!Number.isFinite(time)) throw new Error(`HIST-3: time ${time} is not finite`);
    if (time < this.#lastTime) throw new Error(`HIST-3: time ${time} before ${this.#lastTime}`);
    this.#lastTime = time;
  }
}

function assertProcess(process: number): void {
  if (!Number.isSafeInteger(process) || process < 0) throw new Error(`history: bad process id ${process}`);
}
