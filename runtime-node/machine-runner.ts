// MachineRunner: the runtime loop around one node's pure machine (core/io.ts `Machine`). It feeds
// inputs to `step`, carries out `Disk` effects on the node's FileDisk (FIFO, FDISK-1) and feeds
// their DiskDone/DiskFailed back in as inputs; every other effect (Send, Reply, Close, timers) is
// handed to `onEffect`, which the network and timer drivers own.
//
// Invariants:
//  - RUN-1 `step` is never re-entered: inputs arriving while a step runs (a synchronous
//    onEffect feeding back, say) are queued and stepped after it, in arrival order.
//  - RUN-2 Disk effects reach the FileDisk in the order the machine emitted them, across steps
//    (so completions come back in emission order, as the disk contract promises).
//  - RUN-3 the inputs waiting behind a step are bounded (maxBacklog); exceeding it is a driver
//    bug and fails the runner.
//  - RUN-4 fail-stop: if `step` or `onEffect` throws, the runner is failed: that input's
//    remaining effects are not carried out, nothing queued or arriving later is stepped, and the
//    error goes to `onFailure` (or, without one, to the caller of `input`, or, for a disk
//    completion, is thrown on a later tick: loudly). A machine is never run half-updated. (Found
//    in review: a throw dropped the queued inputs and the rest of the effects, and the next
//    input was stepped as if nothing had happened.)
//  - RUN-5 after `stop()` (before its FileDisk closes) no input is stepped: completions of ops
//    still in flight are dropped, so the machine never sees the EIO a closed disk answers.
//  - RUN-6 every input's stamp comes from one clock, the FileDisk's (`now` never goes back).

import type { Effect, Input, Machine, Stamp } from '../core/io.ts';
import type { DiskInput, FileDisk } from './file-disk.ts';

export interface MachineRunnerOptions {
  readonly maxBacklog?: number;
  /** RUN-4: called once, with the error that failed the runner. */
  readonly onFailure?: (error: unknown) => void;
}

export class MachineRunner<Msg = unknown, Req = unknown, Res = unknown> {
  private backlog: Input<Msg, Req>[] = [];
  /** The next backlog entry to step (RUN-1, RUN-3). */
  private backlogHead = 0;
  private stepping = false;
  private state: 'running' | 'stopped' | 'failed' = 'running';
  private readonly maxBacklog: number;
  private readonly onFailure: ((error: unknown) => void) | undefined;
  private readonly deliver = (input: DiskInput): void => {
    try {
      this.input(input as Input<Msg, Req>);
    } catch (error) {
      // No onFailure and nobody to throw to (we are inside FileDisk's completion): fail loudly.
      setImmediate(() => {
        throw error;
      });
    }
  };

  constructor(
    private readonly machine: Machine<Msg, Req, Res>,
    private readonly disk: FileDisk,
    private readonly onEffect: (effect: Exclude<Effect<Msg, Res>, { tag: 'Disk' }>) => void,
    options: MachineRunnerOptions = {},
  ) {
    this.maxBacklog = options.maxBacklog ?? 1 << 16;
    this.onFailure = options.onFailure;
  }

  /** The stamp for an input built now, from the FileDisk's clock (RUN-6). */
  stamp(): Stamp {
    return this.disk.stamp();
  }

  /** 'running', 'stopped' (RUN-5) or 'failed' (RUN-4). */
  get status(): 'running' | 'stopped' | 'failed' {
    return this.state;
  }

  /** RUN-5: steps nothing more; call it before closing the FileDisk. */
  stop(): void {
    if (this.state === 'running') this.state = 'stopped';
  }

  /** Steps the machine with `input` (or queues it behind the step in progress, RUN-1). */
  input(input: Input<Msg, Req>): void {
    if (this.state !== 'running') return;
    if (this.stepping) {
      // Thrown into the step that fed it (a synchronous onEffect): that step then fails (RUN-4).
      if (this.backlog.length - this.backlogHead >= this.maxBacklog) throw new Error(`RUN-3: more than ${this.maxBacklog} inputs queued`);
      this.backlog.push(input);
      return;
    }
    this.stepping = true;
    try {
      this.stepOne(input);
      // RUN-3 counts what waits, from the head on (an index: no shift per input).
      while (this.state === 'running' && this.backlogHead < this.backlog.length) this.stepOne(this.backlog[this.backlogHead++]!);
    } catch (error) {
      this.stepping = false;
      this.fail(error);
      if (this.onFailure === undefined) throw error;
      return;
    } finally {
      this.backlog.length = 0;
      this.backlogHead = 0;
    }
    this.stepping = false;
  }

  private fail(error: unknown): void {
    if (this.state === 'failed') return;
    this.state = 'failed'; // what is queued is dropped when the stepping loop ends
    this.onFailure?.(error);
  }

  private stepOne(input: Input<Msg, Req>): void {
    for (const effect of this.machine.step(input)) {
      if (this.state !== 'running') return; // stopped by onEffect (RUN-5)
      if (effect.tag === 'Disk') this.disk.submit(effect.id, effect.op, this.deliver);
      else this.onEffect(effect);
    }
  }
}
