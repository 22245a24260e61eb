// Types for the snappyjs package (raw Snappy block format, pure JS); it ships none.
declare module 'snappyjs' {
  /** Throws on a malformed stream or when the declared length exceeds `maxLength`. */
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
  export function compress(uncompressed: Uint8Array): Uint8Array;
}
