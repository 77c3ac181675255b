/**
 * Tessera classes by a key that is the same in every process of one program:
 * the path of the module that declared the class, and the class name.
 */
import { basename } from "node:path";
import { InvalidArgumentError, MosaicError } from "../errors.ts";
import { addSerializable } from "./wire/serializable.ts";

/**
 * Kept on globalThis under a registered symbol: two copies of the library in
 * one process (the compiled CLI and a script it loads from source) share it.
 */
const classes: Map<string, Function> = ((globalThis as Record<symbol, Map<string, Function> | undefined>)[Symbol.for("mosaic.tessera-classes")] ??= new Map());

/** A worker was asked for a class that its copy of the program never declared. */
export class ClassNotFoundError extends MosaicError {
  override readonly code = "CLASS_NOT_FOUND";
}

const LIBRARY_DIR = new URL("..", import.meta.url).pathname;

/** The file of the first stack frame outside this library: the module declaring the class. */
function declaringModule(): string {
  const frames = new Error().stack?.split("\n").slice(1) ?? [];
  for (const frame of frames) {
    const match = /\(?((?:\/|[A-Za-z]:\\|file:\/\/)[^():]+?|\/\$bunfs\/[^():]+?):\d+:\d+\)?\s*$/.exec(frame);
    const file = match?.[1];
    if (file && !file.startsWith(LIBRARY_DIR) && !file.startsWith("bun:")) return file.replace(/^file:\/\//, "");
  }
  return "<unknown module>";
}

/** `key`: a fixed key (the library's own classes); default: the declaring module's path and `name`. */
export function registerClass(Class: Function, name = Class.name, key = `${declaringModule()}#${name}`): string {
  if (!name) throw new InvalidArgumentError("a tessera class needs a name: declare it as `class Name { ... }`");
  const existing = classes.get(key);
  if (existing && existing !== Class) {
    throw new InvalidArgumentError(`two tessera classes share the key ${describeKey(key)}: give one of them another name`);
  }
  classes.set(key, Class);
  return key;
}

/** Remote functions by key (module path and name), shared by every copy of the library in a process. */
const functions: Map<string, Function> = ((globalThis as Record<symbol, Map<string, Function> | undefined>)[Symbol.for("mosaic.remote-functions")] ??= new Map());

/** Registers a function for `mosaic.remote()`: found on every process by the module that declared it and its name. */
export function registerFunction(fn: Function): string {
  if (!fn.name) throw new InvalidArgumentError("a remote function needs a name: declare it as `function name(...) { ... }` (or const name = (...) => ...)");
  const key = `${declaringModule()}#${fn.name}`;
  const existing = functions.get(key);
  if (existing && existing !== fn) throw new InvalidArgumentError(`two remote functions share the key ${describeKey(key)}: give one of them another name`);
  functions.set(key, fn);
  return key;
}

export function findFunction(key: string): Function {
  const fn = functions.get(key);
  if (!fn) {
    throw new ClassNotFoundError(
      `remote function ${describeKey(key)} is not declared in this worker's program (known: ${[...functions.keys()].map(describeKey).join(", ") || "none"}). ` +
        "Declare remote functions at module level, before calling mosaic.init()/run()/interactive().",
    );
  }
  return fn;
}

/**
 * Makes instances of `Class` travel as themselves in arguments, results and
 * warehouse objects, nested anywhere (see wire/serializable.ts for the rule:
 * own fields travel, the constructor is not run on arrival). Call it at
 * module level, before `mosaic.init()`, so every process registers it; as a
 * decorator: `@serializable class Point { ... }`.
 */
export function register<C extends Function>(Class: C, context?: ClassDecoratorContext): C {
  if (typeof Class !== "function" || !Class.prototype) throw new InvalidArgumentError("register() takes a class");
  const name = (context?.name as string | undefined) ?? Class.name;
  if (!name) throw new InvalidArgumentError("a registered class needs a name: declare it as `class Name { ... }`");
  // Internal slots (a Map's entries, a Date's time, an array's elements) are not fields: they would not travel.
  for (let proto = Object.getPrototypeOf(Class.prototype); proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    const base = proto.constructor as Function | undefined;
    if (base && (globalThis as Record<string, unknown>)[base.name] === base) {
      throw new InvalidArgumentError(`${name} cannot be registered: it extends the built-in ${base.name}, whose contents are not fields (send a plain ${base.name}, or keep it in a field)`);
    }
  }
  const key = `${declaringModule()}#${name}`;
  addSerializable(Class, key);
  return Class;
}

export function findClass(key: string): Function {
  const Class = classes.get(key);
  if (!Class) {
    const known = [...classes.keys()].map(describeKey).join(", ") || "none";
    throw new ClassNotFoundError(
      `tessera class ${describeKey(key)} is not declared in this worker's program (known: ${known}). ` +
        "Declare tessera classes at module level, before calling mosaic.init()/run()/interactive().",
    );
  }
  return Class;
}

/** `Solver1 (tutorial.ts)` for messages. */
export function describeKey(key: string): string {
  const at = key.lastIndexOf("#");
  return `${key.slice(at + 1)} (${basename(key.slice(0, at))})`;
}

export function classNameOf(key: string): string {
  return key.slice(key.lastIndexOf("#") + 1);
}
