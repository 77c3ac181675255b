/**
 * Reading values out of text (command-line flags, environment variables) and
 * the spellings one name takes in each place.
 */

/** The integer `text` spells, or undefined. Blank text is no number (Number("") is 0). */
export function parseInteger(text: string): number | undefined {
  const value = parseNumber(text);
  return value !== undefined && Number.isInteger(value) ? value : undefined;
}

/** The finite number `text` spells (`8e9` too), or undefined. */
export function parseNumber(text: string): number | undefined {
  if (text.trim() === "") return undefined;
  const value = Number(text);
  return Number.isFinite(value) ? value : undefined;
}

/** true for 1/true/yes/on, false for 0/false/no/off, else undefined. */
export function parseBoolean(text: string): boolean | undefined {
  const word = text.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(word)) return true;
  if (["0", "false", "no", "off"].includes(word)) return false;
  return undefined;
}

/** `numWorkers` → `num-workers`, the spelling of a command-line flag. */
export function kebabCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** `numWorkers` → `NUM_WORKERS`, the spelling of an environment variable. */
export function upperSnakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter}`).toUpperCase();
}
