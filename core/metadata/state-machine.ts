// The adapter the raft replica drives: committed entries in, the metadata image out. One instance
// per node; every node (voter or observer) applies the same committed entries in order.
//
// Conventions the raft side must follow:
//  - `apply` gets committed entries in strictly increasing offset order. An empty payload is an
//    entry without metadata (e.g. raft's own leader-change marker): it only advances offset/epoch.
//  - `restore(bytes, endOffset, epoch)`: `endOffset` is exclusive, as Kafka's snapshot ids are
//    (the snapshot covers every entry below it); so the restored image's offset is endOffset - 1.
//    `snapshot()` taken after applying offset X is therefore to be stored with endOffset X + 1.
//    A snapshot whose own offset/epoch is below (endOffset - 1, epoch) is accepted and stamped
//    with raft's position (entries raft did not pass to apply carry no metadata); above is an error.
//
// Invariants:
//  SM-1  A committed payload that does not decode, or records that do not fit (META-2), throw:
//        committed entries are checksummed by raft, so this is a bug and the node must stop
//        rather than diverge from its peers.
//  SM-2  `lastPatches` are the immer patches of the last `apply` (empty after restore).
import type { Patch } from 'immer';
import type { AppliedEntry, StateMachine } from '../raft/replica.ts';
import { type MetadataImage, applyRecords, applyRecordsWithPatches, emptyImage } from './image.ts';
import { decodeRecords } from './records.ts';
import { decodeSnapshot, encodeSnapshot } from './snapshot.ts';

const stamp = (image: MetadataImage, offset: number, epoch: number): MetadataImage => applyRecords(image, [], offset, epoch);

export class MetadataStateMachine implements StateMachine {
  private current: MetadataImage;
  private patches: readonly Patch[] = [];

  constructor(image: MetadataImage = emptyImage()) {
    this.current = image;
  }

  get image(): MetadataImage {
    return this.current;
  }

  get lastPatches(): readonly Patch[] {
    return this.patches;
  }

  apply(entry: AppliedEntry): void {
    const records = entry.payload.length === 0 ? [] : decodeRecords(entry.payload);
    if (!Array.isArray(records)) throw new Error(`metadata: committed entry ${entry.offset} does not decode: ${records.error}`);
    const applied = applyRecordsWithPatches(this.current, records, entry.offset, entry.epoch);
    this.current = applied.image;
    this.patches = applied.patches;
  }

  snapshot(): Uint8Array {
    return encodeSnapshot(this.current);
  }

  restore(bytes: Uint8Array, endOffset: number, epoch: number): void {
    const decoded = decodeSnapshot(bytes);
    if ('error' in decoded) throw new Error(`metadata: snapshot at ${endOffset} is unusable: ${decoded.error}`);
    const lastOffset = endOffset - 1;
    const { offset: imageOffset, epoch: imageEpoch } = decoded.image;
    if (imageOffset > lastOffset || imageEpoch > epoch || (imageOffset === lastOffset && imageEpoch !== epoch)) {
      throw new Error(
        `metadata: snapshot at ${imageOffset}/${imageEpoch} does not fit raft's endOffset ${endOffset} (exclusive)/epoch ${epoch}`,
      );
    }
    // Raft may not pass its own marker entries to apply(), so the image can lag the snapshot id
    // by such entries; stamp raft's position so later applies continue from it.
    this.current = imageOffset === lastOffset ? decoded.image : stamp(decoded.image, lastOffset, epoch);
    this.patches = [];
  }
}
