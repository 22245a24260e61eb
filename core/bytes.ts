// Byte-array helpers shared across core/: the total length of a list of chunks, and the chunks
// copied into one new array. (io.ts's writeLength/gather, the decompression sink, compaction's
// rewritten segment, a raft snapshot download and a log read's size all use these.)

/** The number of bytes in `chunks`. */
export const totalLength = (chunks: readonly Uint8Array[]): number => {
  let n = 0;
  for (const c of chunks) n += c.length;
  return n;
};

/** `chunks` back to back in one new array (`total` when the caller already knows the sum). */
export const concatBytes = (chunks: readonly Uint8Array[], total = totalLength(chunks)): Uint8Array => {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
};

/** Byte equality: two reads of bytes without a checksum agree (CKPT-2, LOG-6, CMP-5, WALK-2). */
export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
};
