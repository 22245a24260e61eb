// What the active controller keeps between commands: the committed image (fed from the state
// machine), its own proposals that raft has appended but not yet committed, and the speculative
// image (committed + pending) that new commands are validated against, so two in-flight
// proposals can never contradict each other (e.g. create the same topic twice).
//
// Usage by the node (leader only):
//   const r = state.handle(cmd, rng);            // validate against the speculative image
//   if (r.ok && r.records.length > 0) {
//     const { offset, epoch } = raft.propose(encodeRecords(r.records));
//     state.onProposed(offset, epoch, r.records); // before handling the next command
//   }
//   ...after raft applies committed entries to MetadataStateMachine:  state.onCommitted(sm.image)
//   ...on losing leadership (or becoming leader):                    state.onLeadershipLost()
// A new leader should accept writes only once an entry of its own epoch has committed (as
// Kafka's QuorumController does), so entries of earlier leaders are already in the committed
// image and cannot race with its proposals.
//
// Invariants:
//  CSTATE-1  pending offsets strictly increase, are all > committed.offset, and number at most
//            MAX_PENDING_PROPOSALS; the speculative image equals committed + pending replayed.
//  CSTATE-2  a pending proposal whose offset is committed with a different epoch was truncated
//            by a new leader, and a committed epoch above a pending proposal's epoch means a newer
//            leader exists: in both cases all pending are dropped. (The node must still call
//            onLeadershipLost when raft reports the loss; this is the backstop.)
// Cost: onCommitted replays the remaining pending proposals onto the new committed image, which
// is O(pending records) per commit; fine for a handful in flight.
// Faults survived: leadership loss with proposals in flight (they are dropped, not replayed).
import type { Rng } from '../rng.ts';
import { type ControllerCommand, type ControllerResult, handleCommand } from './controller.ts';
import { type MetadataImage, applyRecords, emptyImage } from './image.ts';
import type { MetadataRecord } from './records.ts';

export const MAX_PENDING_PROPOSALS = 4096;

export interface PendingProposal {
  readonly offset: number;
  readonly epoch: number;
  readonly records: readonly MetadataRecord[];
}

const assert: (cond: unknown, msg: string) => asserts cond = (cond, msg) => {
  if (!cond) throw new Error(`controller state: ${msg}`);
};

export class ControllerState {
  private committedImage: MetadataImage;
  private speculative: MetadataImage;
  private readonly queue: PendingProposal[] = [];

  constructor(committed: MetadataImage = emptyImage()) {
    this.committedImage = committed;
    this.speculative = committed;
  }

  get committed(): MetadataImage {
    return this.committedImage;
  }

  /** Committed image plus every pending proposal: validate new commands against this. */
  get pendingImage(): MetadataImage {
    return this.speculative;
  }

  get pending(): readonly PendingProposal[] {
    return this.queue;
  }

  /** True when another proposal may be added (CSTATE-1's bound). */
  get canPropose(): boolean {
    return this.queue.length < MAX_PENDING_PROPOSALS;
  }

  /** handleCommand against the speculative image. */
  handle(cmd: ControllerCommand, rng: Rng): ControllerResult {
    return handleCommand(this.speculative, cmd, rng);
  }

  /** Raft appended `records` at `offset` in `epoch`: apply them speculatively. */
  onProposed(offset: number, epoch: number, records: readonly MetadataRecord[]): void {
    assert(this.canPropose, `more than ${MAX_PENDING_PROPOSALS} pending proposals`);
    assert(offset > this.speculative.offset, `proposal offset ${offset} not after ${this.speculative.offset}`);
    this.speculative = applyRecords(this.speculative, records, offset, epoch);
    this.queue.push({ offset, epoch, records });
  }

  /** The state machine's image advanced: drop what it covers and rebase the rest (CSTATE-2). */
  onCommitted(committed: MetadataImage): void {
    assert(committed.offset >= this.committedImage.offset, `committed image went back ${committed.offset} < ${this.committedImage.offset}`);
    this.committedImage = committed;
    let dropped = 0;
    let truncated = false;
    while (dropped < this.queue.length && this.queue[dropped].offset <= committed.offset) {
      const p = this.queue[dropped];
      if (p.offset === committed.offset && p.epoch !== committed.epoch) truncated = true;
      dropped++;
    }
    // A newer epoch committed while we still hold proposals of an older one: they are doomed.
    if (this.queue.some((p) => p.epoch < committed.epoch)) truncated = true;
    if (truncated) return this.onLeadershipLost();
    this.queue.splice(0, dropped);
    this.rebase();
  }

  /** Forget every pending proposal; the speculative image becomes the committed one. */
  onLeadershipLost(): void {
    this.queue.length = 0;
    this.speculative = this.committedImage;
  }

  private rebase(): void {
    let image = this.committedImage;
    for (const p of this.queue) image = applyRecords(image, p.records, p.offset, p.epoch);
    this.speculative = image;
  }
}
