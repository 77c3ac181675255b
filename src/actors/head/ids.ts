/**
 * Tesserae, tasks and warehouse objects are named by numbers on the wire
 * (short to encode and to look up: only this head creates them); their uids,
 * for people, add a random prefix per head so that they are unique across
 * runs too.
 */
const ID_PREFIX = crypto.randomUUID().replaceAll("-", "").slice(0, 20);
let nextId = 1;

/** A new wire id (tesserae, tasks and warehouse objects share the sequence). */
export function nextWireId(): number {
  return nextId++;
}

/** The prefix and the zeros before a hex id of each length (up to 12 digits: ids stay below 2^48). */
const PADDED_PREFIXES = Array.from({ length: 13 }, (_, digits) => ID_PREFIX + "0".repeat(12 - digits));

/** The unique part of the uid of the thing numbered `id`. */
export function uidSuffix(id: number): string {
  const hex = id.toString(16);
  // padStart and a template made three strings of each uid (dependent calls name every upstream task by its uid).
  return hex.length <= 12 ? PADDED_PREFIXES[hex.length]! + hex : ID_PREFIX + hex;
}
