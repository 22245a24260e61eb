// Kafka Uuids (topic ids, incarnation ids) as Cairn's metadata carries them: 32 lowercase hex
// digits in memory (usable as a Map key, stable to print and compare), 16 bytes on the wire.
//
// Invariant UUID-1: `uuidFromBytes(uuidToBytes(u)) === u` for every valid Uuid, and every
// 16-byte input maps to exactly one valid Uuid.

export type Uuid = string;

export const UUID_BYTES = 16;
export const ZERO_UUID: Uuid = '0'.repeat(32);
/** Kafka reserves Uuid.ONE_UUID (the metadata topic); the controller never hands it out. */
export const ONE_UUID: Uuid = '0'.repeat(31) + '1';

const HEX = /^[0-9a-f]{32}$/;

export const isUuid = (value: unknown): value is Uuid => typeof value === 'string' && HEX.test(value);

export const uuidToBytes = (value: Uuid): Uint8Array => {
  if (!isUuid(value)) throw new Error(`not a Uuid: ${JSON.stringify(value)}`);
  const out = new Uint8Array(UUID_BYTES);
  for (let i = 0; i < UUID_BYTES; i++) out[i] = parseInt(value.slice(2 * i, 2 * i + 2), 16);
  return out;
};

export const uuidFromBytes = (bytes: Uint8Array): Uuid => {
  if (bytes.length !== UUID_BYTES) throw new Error(`uuidFromBytes: ${bytes.length} bytes`);
  let out = '';
  for (let i = 0; i < UUID_BYTES; i++) out += bytes[i].toString(16).padStart(2, '0');
  return out;
};

/** A Uuid from four 32-bit words (what a seeded core/rng.ts generator yields). */
export const uuidFromWords = (words: readonly [number, number, number, number]): Uuid =>
  words.map((w) => (w >>> 0).toString(16).padStart(8, '0')).join('');
