// The trace hash: a fingerprint of everything delivered in a run (every input to every node,
// every reply to a client, every fault applied), so "same seed => same run" can be checked
// cheaply, in one process and across processes.
//
// Encoding: a compact stream of 32-bit words (no JSON): type tags, integers, float64 halves,
// string char codes, byte contents. Hash: two 32-bit multiplicative lanes (FNV-1a style and a
// murmur-style lane) with a final avalanche, printed as 16 hex digits. Not cryptographic; it
// only has to make accidental collisions between differing runs vanishingly unlikely.
//
// Invariants:
//  TRACE-1  The digest depends only on the sequence of values recorded (object keys in their
//           insertion order, which deterministic code makes deterministic), never on addresses,
//           timing or process.
//  TRACE-2  Uint8Array contents are hashed in full (a message's bytes are part of the run),
//           as little-endian 32-bit words (the aligned fast path assumes a little-endian host,
//           which every Node platform we run on is; checked at load).
//
// Faults: none of its own.

import type { Input, NodeId } from '../core/io.ts';

const MAX_DEPTH = 24;
if (new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1) throw new Error('trace: big-endian host unsupported (TRACE-2)');
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

export class TraceHasher {
  private h1 = 0x811c9dc5;
  private h2 = 0x9747b28c;
  count = 0;

  word(w: number): void {
    this.h1 = Math.imul(this.h1 ^ w, 0x01000193);
    let h2 = Math.imul(this.h2 ^ w, 0x5bd1e995);
    this.h2 = h2 ^ (h2 >>> 13);
    this.count++;
  }

  num(n: number): void {
    if ((n | 0) === n) {
      this.word(0x11);
      this.word(n);
    } else {
      f64[0] = n;
      this.word(0x12);
      this.word(u32[0]);
      this.word(u32[1]);
    }
  }

  str(s: string): void {
    const n = s.length;
    this.word(0x13);
    this.word(n);
    let i = 0;
    for (; i + 1 < n; i += 2) this.word(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
    if (i < n) this.word(s.charCodeAt(i));
  }

  bytes(b: Uint8Array): void {
    const n = b.length;
    this.word(0x14);
    this.word(n);
    // Hot for payload-heavy runs: an inlined loop over 32-bit words (aligned view when possible).
    let h1 = this.h1;
    let h2 = this.h2;
    const words = n >>> 2;
    const aligned = (b.byteOffset & 3) === 0 ? new Int32Array(b.buffer, b.byteOffset, words) : undefined;
    for (let k = 0; k < words; k++) {
      const i = k << 2;
      const w = aligned ? aligned[k] : b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
      h1 = Math.imul(h1 ^ w, 0x01000193);
      h2 = Math.imul(h2 ^ w, 0x5bd1e995);
      h2 ^= h2 >>> 13;
    }
    this.h1 = h1;
    this.h2 = h2;
    this.count += words;
    for (let i = words << 2; i < n; i++) this.word(b[i]);
  }

  /** Any plain value: primitives, arrays, Maps, Sets, byte arrays, plain objects. */
  value(v: unknown, depth = 0): void {
    if (depth > MAX_DEPTH) return this.word(0x2f);
    switch (typeof v) {
      case 'undefined':
        return this.word(0x21);
      case 'boolean':
        return this.word(v ? 0x22 : 0x23);
      case 'number':
        return this.num(v);
      case 'string':
        return this.str(v);
      case 'bigint':
        this.word(0x24);
        return this.str(v.toString(16));
      case 'function':
      case 'symbol':
        return this.word(0x25);
    }
    if (v === null) return this.word(0x26);
    if (v instanceof Uint8Array) return this.bytes(v);
    if (Array.isArray(v)) {
      this.word(0x27);
      this.word(v.length);
      for (let i = 0; i < v.length; i++) this.value(v[i], depth + 1);
      return;
    }
    if (ArrayBuffer.isView(v)) return this.bytes(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    if (v instanceof Map) {
      this.word(0x28);
      this.word(v.size);
      for (const [k, x] of v) {
        this.value(k, depth + 1);
        this.value(x, depth + 1);
      }
      return;
    }
    if (v instanceof Set) {
      this.word(0x29);
      this.word(v.size);
      for (const x of v) this.value(x, depth + 1);
      return;
    }
    this.word(0x2a);
    const o = v as Record<string, unknown>;
    for (const k in o) {
      this.str(k);
      this.value(o[k], depth + 1);
    }
    this.word(0x2b);
  }

  digest(): string {
    let a = this.h1 ^ this.count;
    let b = this.h2 ^ Math.imul(this.count, 0x9e3779b1);
    a = Math.imul(a ^ (a >>> 16), 0x85ebca6b);
    a = Math.imul(a ^ (a >>> 13), 0xc2b2ae35) ^ b;
    b = Math.imul(b ^ (b >>> 16), 0x7feb352d);
    b = Math.imul(b ^ (b >>> 15), 0x846ca68b) ^ a;
    a ^= a >>> 16;
    b ^= b >>> 16;
    return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
  }
}

const TAG_CODE: Record<Input['tag'], number> = {
  Start: 1,
  Message: 2,
  ClientRequest: 3,
  ConnectionClosed: 4,
  Timer: 5,
  DiskDone: 6,
  DiskFailed: 7,
};

export type TraceMode = 'full' | 'shallow' | 'off';

/** The run's trace: `full` hashes message and request payloads too; `shallow` only their
 *  routing fields (faster for huge payloads); `off` records nothing. */
export class Trace {
  private readonly h = new TraceHasher();
  private entries = 0;
  readonly mode: TraceMode;

  constructor(mode: TraceMode = 'full') {
    this.mode = mode;
  }

  input(timeMs: number, node: NodeId, input: Input): void {
    if (this.mode === 'off') return;
    const h = this.h;
    this.entries++;
    h.word(0x7001);
    h.num(timeMs);
    h.num(node);
    h.word(TAG_CODE[input.tag]);
    h.num(input.now);
    h.num(input.wall);
    const full = this.mode === 'full';
    switch (input.tag) {
      case 'Start':
        return h.num(input.seed);
      case 'Message':
        h.num(input.from);
        if (full) h.value(input.message);
        return;
      case 'ClientRequest':
        h.num(input.conn);
        h.num(input.corr);
        if (full) h.value(input.request);
        return;
      case 'ConnectionClosed':
        return h.num(input.conn);
      case 'Timer':
        return h.str(input.timer);
      case 'DiskDone':
        h.num(input.id);
        h.str(input.op);
        if (input.result.data) h.bytes(input.result.data);
        if (input.result.size !== undefined) h.num(input.result.size);
        if (input.result.entries) h.value(input.result.entries);
        return;
      case 'DiskFailed':
        h.num(input.id);
        h.str(input.op);
        return h.str(input.error);
    }
  }

  /** A reply (or other message) delivered to a client connection. */
  reply(timeMs: number, conn: number, corr: number, response: unknown): void {
    if (this.mode === 'off') return;
    this.entries++;
    this.h.word(0x7002);
    this.h.num(timeMs);
    this.h.num(conn);
    this.h.num(corr);
    if (this.mode === 'full') this.h.value(response);
  }

  /** Anything else worth pinning (faults applied, connection losses): a label and numbers. */
  event(timeMs: number, label: string, a = 0, b = 0): void {
    if (this.mode === 'off') return;
    this.entries++;
    this.h.word(0x7003);
    this.h.num(timeMs);
    this.h.str(label);
    this.h.num(a);
    this.h.num(b);
  }

  hash(): string {
    return this.h.digest();
  }

  count(): number {
    return this.entries;
  }
}
