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

/** The unique part of the uid of the thing numbered `id`. */
export function uidSuffix(id: number): string {
  return `${ID_PREFIX}${id.toString(16).padStart(12, "0")}`;
}
