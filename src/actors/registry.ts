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

/** A file name of a stack frame that is a module's path (not native code, not one of Bun's internal modules). */
const MODULE_PATH = /^(?:\/|[A-Za-z]:\\|file:\/\/)/;

/**
 * The module that declared a class or function: the file of the first stack
 * frame below `entry` (the library's function the program called) that is
 * outside this library. Read from the frames' call sites, and without the
 * library's own frames: Bun source-maps every frame it captures, and from a
 * build (child-bundle.ts) the library's frames would have a tessera thread or
 * a worker read the bundle's source map (~2.4 ms, at the first class).
 */
function declaringModule(entry: Function): string {
  const original = Error.prepareStackTrace;
  const limit = Error.stackTraceLimit;
  let files: (string | null | undefined)[] = [];
  try {
    Error.prepareStackTrace = (_error, sites) => sites;
    Error.stackTraceLimit = 20;
    const holder: { stack?: unknown } = {};
    Error.captureStackTrace(holder, entry);
    if (Array.isArray(holder.stack)) files = (holder.stack as NodeJS.CallSite[]).map((site) => site.getFileName());
  } finally {
    Error.prepareStackTrace = original;
    Error.stackTraceLimit = limit;
  }
  for (const file of files) {
    if (file && MODULE_PATH.test(file) && !file.startsWith(LIBRARY_DIR)) return file.replace(/^file:\/\//, "");
  }
  return "<unknown module>";
}

/** The key of a class or function `name` declared by the module that called `entry` (see declaringModule). */
export function declaredKey(entry: Function, name: string): string {
  return `${declaringModule(entry)}#${name}`;
}

/** `key`: the declaring module's path and `name` (declaredKey), or a fixed key (the library's own classes). */
export function registerClass(Class: Function, name: string, key: string): string {
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
export function registerFunction(fn: Function, entry: Function): string {
  if (!fn.name) throw new InvalidArgumentError("a remote function needs a name: declare it as `function name(...) { ... }` (or const name = (...) => ...)");
  const key = declaredKey(entry, fn.name);
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
  const key = declaredKey(register, name);
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
