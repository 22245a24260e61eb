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
//  - RUN-3 the input backlog is bounded (maxBacklog); exceeding it is a driver bug and throws.
// Faults: a throwing `step` is a bug in the machine; it propagates to the caller of `input`.

import type { Effect, Input, Machine, Stamp } from '../core/io.ts';
import { realStamp, type DiskInput, type FileDisk } from './file-disk.ts';

export interface MachineRunnerOptions {
  readonly maxBacklog?: number;
}

export class MachineRunner<Msg = unknown, Req = unknown, Res = unknown> {
  private readonly backlog: Input<Msg, Req>[] = [];
  private stepping = false;
  private readonly maxBacklog: number;
  private readonly deliver = (input: DiskInput): void => this.input(input as Input<Msg, Req>);

  constructor(
    private readonly machine: Machine<Msg, Req, Res>,
    private readonly disk: FileDisk,
    private readonly onEffect: (effect: Exclude<Effect<Msg, Res>, { tag: 'Disk' }>) => void,
    options: MachineRunnerOptions = {},
  ) {
    this.maxBacklog = options.maxBacklog ?? 1 << 16;
  }

  /** The stamp for an input built now (performance.now() / Date.now()). */
  stamp(): Stamp {
    return realStamp();
  }

  /** Steps the machine with `input` (or queues it behind the step in progress, RUN-1). */
  input(input: Input<Msg, Req>): void {
    if (this.stepping) {
      if (this.backlog.length >= this.maxBacklog) throw new Error(`RUN-3: more than ${this.maxBacklog} inputs queued`);
      this.backlog.push(input);
      return;
    }
    this.stepping = true;
    try {
      this.stepOne(input);
      for (let i = 0; i < this.backlog.length; i++) this.stepOne(this.backlog[i]!);
    } finally {
      this.backlog.length = 0;
      this.stepping = false;
    }
  }

  private stepOne(input: Input<Msg, Req>): void {
    for (const effect of this.machine.step(input)) {
      if (effect.tag === 'Disk') this.disk.submit(effect.id, effect.op, this.deliver);
      else this.onEffect(effect);
    }
  }
}
