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
