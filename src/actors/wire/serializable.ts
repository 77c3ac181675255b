/**
 * Classes whose instances travel as themselves (`@serializable` or
 * `mosaic.register(Class)`): by the same key in every process (module path
 * and class name, as tessera classes; the registry above fills this table).
 * An instance travels as its own enumerable fields and arrives as an object of
 * the same class whose fields are set; its constructor is not run on arrival
 * (as `structuredClone`'s and Python pickle's rule: a constructor may have
 * effects, or need arguments the value does not keep). Private `#fields` and
 * getters do not travel.
 */
import { ClassNotRegisteredError, InvalidArgumentError } from "../../errors.ts";

const byClass: Map<Function, string> = ((globalThis as Record<symbol, Map<Function, string> | undefined>)[Symbol.for("mosaic.serializable-classes")] ??= new Map());
const byKey: Map<string, Function> = ((globalThis as Record<symbol, Map<string, Function> | undefined>)[Symbol.for("mosaic.serializable-keys")] ??= new Map());

export function addSerializable(Class: Function, key: string): void {
  const existing = byKey.get(key);
  if (existing && existing !== Class) throw new InvalidArgumentError(`two registered classes share the key ${key}: give one of them another name`);
  byClass.set(Class, key);
  byKey.set(key, Class);
}

/** The key of a registered class (undefined: not registered). */
export function serializableKey(Class: unknown): string | undefined {
  return byClass.size === 0 ? undefined : byClass.get(Class as Function);
}

/** The class registered under `key` in this process. */
export function serializableClass(key: string): Function {
  const Class = byKey.get(key);
  if (!Class) {
    const known = [...byKey.keys()].join(", ") || "none";
    throw new ClassNotRegisteredError(`class ${key} is not registered in this process (registered: ${known}): register it at module level, before mosaic.init()`);
  }
  return Class;
}
