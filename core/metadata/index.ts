// core/metadata's public surface, for the node, the broker and the simulator's checkers:
// records and their entry codec, the immutable image, controller commands, the controller's
// speculative state, snapshots and the raft state-machine adapter. (See each module's header
// for its invariants: REC-*, META-*, CTRL-*, CSTATE-*, SNAP-*, SM-*.)
export * from './records.ts';
export * from './uuid.ts';
export * from './errors.ts';
export * from './image.ts';
export * from './controller.ts';
export * from './controller-state.ts';
export * from './snapshot.ts';
export * from './state-machine.ts';
