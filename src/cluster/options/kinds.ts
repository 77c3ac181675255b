/**
 * Kinds of option value: how each is read from text (a flag, an environment
 * variable), written back for a child's argv, and checked. A check returns the
 * whole error message so that every source (code, flag, environment) refuses a
 * value in the same words, naming where it came from.
 */
import { parseBoolean, parseInteger, parseNumber } from "../../_util/parse.ts";
import { InvalidArgumentError } from "../../errors.ts";

export interface Kind<T> {
  /** The value's name in `--help`, e.g. `<integer>`. */
  readonly hint: string;
  /** A flag without a value (`--reuse-head`), never followed by one on a command line. */
  readonly isSwitch?: boolean;
  /** A flag that stands alone (on) or takes its value after `=` (`--dashboard`, `--dashboard=8265`), never the next word. */
  readonly optionalValue?: boolean;
  /** The value `text` spells, or undefined when it spells none. */
  fromText(text: string): T | undefined;
  toText(value: T): string;
  /**
   * Why `value` is refused, or undefined when it is valid. `value` may be of any
   * type (untyped code, text that spelled nothing); `label` names its source
   * (`option port`, `--port`, `MOSAIC_PORT`) and `shown` is how to print it.
   */
  refusal(value: unknown, label: string, shown: string): string | undefined;
  /** How a message prints a value given in code. */
  show(value: unknown): string;
}

/** The value `text` spells, checked; `label` names its source (`--port`, `MOSAIC_PORT`) in the error. */
export function readText<T>(kind: Kind<T>, text: string, label: string): T {
  const value = kind.fromText(text);
  const refusal = kind.refusal(value ?? text, label, JSON.stringify(text));
  if (refusal) throw new InvalidArgumentError(refusal);
  return value!;
}

/** A value given in code, checked; `name` is the option's. */
export function readValue<T>(kind: Kind<T>, value: unknown, name: string): T {
  const refusal = kind.refusal(value, `option ${name}`, kind.show(value));
  if (refusal) throw new InvalidArgumentError(refusal);
  return value as T;
}

export interface IntegerBounds {
  min: number;
  max?: number;
  /** Said after the maximum, e.g. "ms (a day)". */
  maxNote?: string;
}

export function integer({ min, max, maxNote }: IntegerBounds): Kind<number> {
  return {
    hint: "integer",
    fromText: parseInteger,
    toText: String,
    refusal(value, label, shown) {
      if (typeof value !== "number" || !Number.isInteger(value) || value < min) return `${label} must be an integer >= ${min}, got ${shown}`;
      if (max !== undefined && value > max) return `${label} must be at most ${max}${maxNote ? ` ${maxNote}` : ""}, got ${shown}`;
      return undefined;
    },
    show: String,
  };
}

/** A number in (0, 1]. */
export function fraction(): Kind<number> {
  return {
    hint: "fraction",
    fromText: parseNumber,
    toText: String,
    refusal: (value, label, shown) =>
      typeof value === "number" && value > 0 && value <= 1 ? undefined : `${label} must be in (0, 1], got ${shown}`,
    show: String,
  };
}

/** A host name or IP address. */
export function host(): Kind<string> {
  return {
    hint: "host",
    fromText: (text) => text,
    toText: (value) => value,
    refusal: (value, label, shown) =>
      typeof value === "string" && value.trim() !== "" ? undefined : `${label} must be a host name or IP address, got ${shown}`,
    show: (value) => JSON.stringify(value) ?? String(value),
  };
}

/** One of `choices`; `noun` names them in the message ("unknown log level ..."). */
export function oneOf<const T extends string>(choices: readonly T[], noun: string): Kind<T> {
  return {
    hint: choices.join("|"),
    fromText: (text) => text as T,
    toText: (value) => value,
    refusal: (value, label, shown) =>
      (choices as readonly unknown[]).includes(value) ? undefined : `unknown ${noun} ${shown} (${label}): use one of ${choices.join(", ")}`,
    show: (value) => `"${String(value)}"`,
  };
}

/** On or off: a bare flag on the command line; `1`/`true`/`yes`/`on` or the opposite as text. */
export function toggle(): Kind<boolean> {
  return {
    hint: "",
    isSwitch: true,
    fromText: parseBoolean,
    toText: String,
    refusal: (value, label, shown) => (typeof value === "boolean" ? undefined : `${label} must be true or false, got ${shown}`),
    show: String,
  };
}

/** Free text (a path, a command); `allowEmpty`: "" means "not set" for this option. */
export function text({ allowEmpty }: { allowEmpty: boolean }): Kind<string> {
  return {
    hint: "text",
    fromText: (value) => value,
    toText: (value) => value,
    refusal: (value, label, shown) =>
      typeof value === "string" && (allowEmpty || value.trim() !== "") ? undefined : `${label} must be ${allowEmpty ? "a" : "a non-empty"} string, got ${shown}`,
    show: (value) => JSON.stringify(value) ?? String(value),
  };
}

/** Host names: an array in code, comma-separated as text (`h1,h2`); order kept, duplicates kept for the plan to merge. */
export function hostList(): Kind<string[]> {
  return {
    hint: "host,host,...",
    fromText: (value) => value.split(",").map((name) => name.trim()).filter((name) => name !== ""),
    toText: (value) => value.join(","),
    refusal: (value, label, shown) =>
      Array.isArray(value) && value.every((name) => typeof name === "string" && /^[^\s,]+$/.test(name))
        ? undefined
        : `${label} must be a list of host names, got ${shown}`,
    show: (value) => JSON.stringify(value) ?? String(value),
  };
}

/** A file or folder path ("" allowed: the option is off). */
export function path(): Kind<string> {
  return {
    hint: "path",
    fromText: (text) => text,
    toText: (value) => value,
    refusal: (value, label, shown) => (typeof value === "string" ? undefined : `${label} must be a path (text), got ${shown}`),
    show: (value) => JSON.stringify(value) ?? String(value),
  };
}

/**
 * Off, on, or on at a port (the dashboard's): `false`, `true`, or an integer
 * port, 0 for any free one. As text: a port number or a word of parseBoolean;
 * ports below 1024 are refused, so "1" cannot open port 1 by mistake.
 */
export function switchOrPort(): Kind<boolean | number> {
  return {
    hint: "port",
    optionalValue: true,
    fromText: (text) => (/^\s*\d+\s*$/.test(text) ? Number(text) : parseBoolean(text)),
    toText: String,
    refusal: (value, label, shown) =>
      typeof value === "boolean" || (typeof value === "number" && Number.isInteger(value) && (value === 0 || (value >= 1024 && value <= 65535)))
        ? undefined
        : `${label} must be true, false or a port (1024-65535, 0: any free one), got ${shown}`,
    show: (value) => JSON.stringify(value) ?? String(value),
  };
}
