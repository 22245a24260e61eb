// The simulator's one event queue: discrete events ordered by (virtual time ms, insertion
// sequence), a binary min-heap. Single-threaded; nothing here reads a real clock.
//
// Invariants:
//  SCHED-1  Events run in nondecreasing time; ties run in the order they were scheduled.
//  SCHED-2  Virtual time never goes backwards: scheduling in the past is our own bug (throws).
//  SCHED-3  A cancelled event never runs; cancellation is O(1) (lazy removal on pop).
//  SCHED-4  The queue is bounded (maxEvents); overflowing it is a runaway, reported as an Error.
//
// Faults: none of its own.

export interface ScheduledEvent {
  readonly timeMs: number;
  readonly seq: number;
  cancelled: boolean;
  /** The action run when the event fires. */
  readonly run: () => void;
}

const DEFAULT_MAX_EVENTS = 5_000_000;

export class Scheduler {
  private heap: ScheduledEvent[] = [];
  private seq = 0;
  private nowMs = 0;
  private live = 0;
  private readonly maxEvents: number;

  constructor(opts: { startMs?: number; maxEvents?: number } = {}) {
    this.nowMs = opts.startMs ?? 0;
    this.maxEvents = opts.maxEvents ?? DEFAULT_MAX_EVENTS;
  }

  /** Current virtual time (ms): the time of the event running now, or the last one run. */
  now(): number {
    return this.nowMs;
  }

  /** Events scheduled and not cancelled. */
  size(): number {
    return this.live;
  }

  at(timeMs: number, run: () => void): ScheduledEvent {
    if (!(timeMs >= this.nowMs)) throw new Error(`Scheduler.at: ${timeMs} is before now ${this.nowMs} (SCHED-2)`);
    if (this.heap.length >= this.maxEvents) throw new Error(`Scheduler: more than ${this.maxEvents} events (SCHED-4)`);
    const ev: ScheduledEvent = { timeMs, seq: this.seq++, cancelled: false, run };
    this.push(ev);
    this.live++;
    return ev;
  }

  after(delayMs: number, run: () => void): ScheduledEvent {
    if (!(delayMs >= 0)) throw new Error(`Scheduler.after: negative or NaN delay ${delayMs}`);
    return this.at(this.nowMs + delayMs, run);
  }

  cancel(ev: ScheduledEvent | undefined): void {
    if (!ev || ev.cancelled) return;
    ev.cancelled = true;
    this.live--;
  }

  /** Time of the next live event, or undefined. */
  peekTimeMs(): number | undefined {
    this.dropCancelledTop();
    return this.heap.length > 0 ? this.heap[0].timeMs : undefined;
  }

  /** Runs the next event (advancing time to it). False if the queue is empty. */
  runNext(): boolean {
    this.dropCancelledTop();
    if (this.heap.length === 0) return false;
    const ev = this.pop();
    this.live--;
    ev.cancelled = true; // spent: a late cancel is a no-op
    if (ev.timeMs < this.nowMs) throw new Error('Scheduler: time went backwards (SCHED-1)');
    this.nowMs = ev.timeMs;
    ev.run();
    return true;
  }

  /** Runs every event with time <= untilMs, then sets now = untilMs. Returns events run. */
  runUntil(untilMs: number, maxEvents = Number.MAX_SAFE_INTEGER): number {
    let n = 0;
    for (;;) {
      const t = this.peekTimeMs();
      if (t === undefined || t > untilMs || n >= maxEvents) break;
      this.runNext();
      n++;
    }
    if (untilMs > this.nowMs && n < maxEvents) this.nowMs = untilMs;
    return n;
  }

  private dropCancelledTop(): void {
    while (this.heap.length > 0 && this.heap[0].cancelled) this.pop();
  }

  private static less(a: ScheduledEvent, b: ScheduledEvent): boolean {
    return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
  }

  private push(ev: ScheduledEvent): void {
    const h = this.heap;
    let i = h.length;
    h.push(ev);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!Scheduler.less(ev, h[p])) break;
      h[i] = h[p];
      i = p;
    }
    h[i] = ev;
  }

  private pop(): ScheduledEvent {
    const h = this.heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      const n = h.length;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && Scheduler.less(h[r], h[l]) ? r : l;
        if (!Scheduler.less(h[c], last)) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}
