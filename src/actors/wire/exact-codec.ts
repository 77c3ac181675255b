/**
 * The exact encoding: for values the fast one (plain msgpackr) would change
 * (see value-scan.ts for when). The value becomes a tree of tagged nodes that
 * msgpackr carries without loss, wrapped in one extension; the receiver
 * rebuilds the value from it as structuredClone would make it.
 *
 * Every object gets an id in the order it is first met (depth first, before
 * its contents); meeting it again writes [REF, id]. So shared references and
 * cycles come back shared, and a typed array comes back on the same buffer as
 * another view of it, at its own byteOffset. Buffers go through the binary
 * extension (as raw payloads when large), whole, as structuredClone copies them.
 */
import { addExtension } from "msgpackr/pack";
import { EXTENSION_TYPES } from "../../comms/codec.ts";
import { InvalidArgumentError } from "../../errors.ts";
import { ERROR_CLASSES, errorKeys, handleClasses, isIndex, referenceClasses, VIEW_CLASSES } from "./value-scan.ts";
import { serializableClass, serializableKey } from "./serializable.ts";

const enum Tag {
  Ref = 0,
  NegativeZero = 1,
  /** A string that is not well-formed UTF-16 (msgpack strings are UTF-8): its code units. */
  Utf16 = 2,
  Object = 3,
  /** [Sparse, length, key, value, ...]: holes stay holes, named properties come along. */
  SparseArray = 4,
  DenseArray = 5,
  Date = 6,
  RegExp = 7,
  Map = 8,
  Set = 9,
  /** [Error, class name, key, enumerable, value, ...]. */
  Error = 10,
  /** [Buffer, bytes (ArrayBuffer or SharedArrayBuffer), maxByteLength or null]. */
  Buffer = 11,
  /** [View, class index, buffer node, byteOffset, length or null (length-tracking)]. */
  View = 12,
  /** [Reference, task reference]: the reference extension puts the resolved value here. */
  Reference = 13,
  Boxed = 14,
  /** [Instance, class key, key, value, ...]: an instance of a registered class, by its own fields. */
  Instance = 15,
}

/** A value to send with the exact encoding (msgpackr picks the extension by this class). */
class ExactValue {
  constructor(readonly tree: unknown) {}
}

addExtension({
  Class: ExactValue,
  type: EXTENSION_TYPES.exact,
  write: (value: ExactValue) => value.tree,
  read: (tree: unknown) => build(tree, []),
});

/** The value as the exact encoding's extension, for msgpackr to pack. */
export function exactValue(value: unknown): object {
  return new ExactValue(toTree(value, new Map()));
}

// ---------------------------------------------------------------- value → tree

function toTree(value: unknown, ids: Map<object, number>): unknown {
  switch (typeof value) {
    case "number":
      return value === 0 && 1 / value < 0 ? [Tag.NegativeZero] : value;
    case "string":
      return stringTree(value);
    case "object":
      return value === null ? null : objectTree(value, ids);
    default:
      return value; // undefined, boolean, bigint (functions and symbols were refused by the scan)
  }
}

function stringTree(text: string): unknown {
  if (text.isWellFormed()) return text;
  const units = new Uint16Array(text.length);
  for (let i = 0; i < text.length; i++) units[i] = text.charCodeAt(i);
  return [Tag.Utf16, units];
}

function objectTree(value: object, ids: Map<object, number>): unknown {
  if (referenceClasses.has(value.constructor) || handleClasses.has(value.constructor)) return [Tag.Reference, value];
  const id = ids.get(value);
  if (id !== undefined) return [Tag.Ref, id];
  ids.set(value, ids.size);
  const child = (item: unknown) => toTree(item, ids);
  const prototype = Object.getPrototypeOf(value);
  const classKey = serializableKey(value.constructor);
  if (classKey !== undefined && prototype === value.constructor.prototype) {
    const node: unknown[] = [Tag.Instance, classKey];
    for (const key in value) if (Object.hasOwn(value, key)) node.push(stringTree(key), child((value as Record<string, unknown>)[key]));
    return node;
  }
  if (prototype === Object.prototype || prototype === null) {
    const node: unknown[] = [Tag.Object];
    for (const key in value) node.push(stringTree(key), child((value as Record<string, unknown>)[key]));
    return node;
  }
  if (Array.isArray(value)) return arrayTree(value, child);
  if (value instanceof Map) {
    const node: unknown[] = [Tag.Map];
    for (const [key, item] of value) node.push(child(key), child(item));
    return node;
  }
  if (value instanceof Set) {
    const node: unknown[] = [Tag.Set];
    for (const item of value) node.push(child(item));
    return node;
  }
  if (value instanceof Date) return [Tag.Date, value.getTime()];
  if (value instanceof RegExp) return [Tag.RegExp, value.source, value.flags];
  if (value instanceof Error) {
    const node: unknown[] = [Tag.Error, errorClassName(prototype)];
    for (const key of errorKeys(value)) {
      node.push(stringTree(key), Object.prototype.propertyIsEnumerable.call(value, key), child((value as unknown as Record<string, unknown>)[key]));
    }
    return node;
  }
  if (ArrayBuffer.isView(value)) {
    const kind = VIEW_CLASSES.findIndex((Class) => Class.prototype === prototype);
    const tracking = isLengthTracking(value);
    const length = tracking ? null : value instanceof DataView ? value.byteLength : (value as unknown as { length: number }).length;
    return [Tag.View, kind, child(value.buffer), value.byteOffset, length];
  }
  if (value instanceof ArrayBuffer) return [Tag.Buffer, value.resizable ? value.slice(0) : value, value.resizable ? value.maxByteLength : null];
  if (value instanceof SharedArrayBuffer) return [Tag.Buffer, value.growable ? value.slice(0) : value, value.growable ? value.maxByteLength : null];
  return [Tag.Boxed, toTree(value.valueOf(), ids)]; // Number, String, Boolean, BigInt objects
}

function arrayTree(array: unknown[], child: (item: unknown) => unknown): unknown[] {
  const length = array.length;
  let indices = 0;
  let named = false;
  for (const key in array) {
    if (isIndex(key, length)) indices++;
    else named = true;
  }
  if (!named && indices === length) {
    const node: unknown[] = [Tag.DenseArray];
    for (let i = 0; i < length; i++) node.push(child(array[i]));
    return node;
  }
  const node: unknown[] = [Tag.SparseArray, length];
  for (const key in array) node.push(isIndex(key, length) ? Number(key) : stringTree(key), child((array as unknown as Record<string, unknown>)[key]));
  return node;
}

function errorClassName(prototype: object): string {
  for (const [name, Class] of Object.entries(ERROR_CLASSES)) if (Class.prototype === prototype) return name;
  return "Error";
}

/**
 * A view made without a length on a resizable buffer follows the buffer's
 * length, and structuredClone keeps that. Nothing tells it apart but a resize:
 * the buffer is resized by a byte and back (its contents kept), synchronously.
 * A growable SharedArrayBuffer cannot shrink: a view of it that reaches its
 * end counts as tracking.
 */
function isLengthTracking(view: ArrayBufferView): boolean {
  const buffer = view.buffer;
  if (buffer instanceof SharedArrayBuffer) return buffer.growable && view.byteOffset + view.byteLength === buffer.byteLength;
  if (!buffer.resizable || view.byteOffset + view.byteLength !== buffer.byteLength) return false;
  const size = buffer.byteLength;
  const before = view.byteLength;
  // By one element: a smaller change may not change the length of a view of wider elements.
  const step = (view as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
  if (size + step <= buffer.maxByteLength) {
    buffer.resize(size + step);
    const tracking = view.byteLength !== before;
    buffer.resize(size);
    return tracking;
  }
  if (size - step < view.byteOffset) return true; // cannot be told apart by any resize that keeps the view
  const tail = new Uint8Array(buffer, size - step, step).slice();
  buffer.resize(size - step);
  const tracking = view.byteLength !== before;
  buffer.resize(size);
  new Uint8Array(buffer, size - step, step).set(tail);
  return tracking;
}

// ---------------------------------------------------------------- tree → value

function build(node: unknown, objects: unknown[]): unknown {
  if (!Array.isArray(node)) return node;
  const tag = node[0] as Tag;
  switch (tag) {
    case Tag.Ref:
      return objects[node[1] as number];
    case Tag.NegativeZero:
      return -0;
    case Tag.Utf16:
      return fromUnits(node[1] as Uint16Array);
    case Tag.Reference:
      return node[1];
    case Tag.Object: {
      const object: Record<string, unknown> = {};
      objects.push(object);
      for (let i = 1; i < node.length; i += 2) setOwn(object, build(node[i], objects) as string, build(node[i + 1], objects), true);
      return object;
    }
    case Tag.Instance: {
      // Its constructor is not run (see serializable.ts): the object gets the class's prototype and its fields.
      const object = Object.create((serializableClass(node[1] as string) as { prototype: object }).prototype) as Record<string, unknown>;
      objects.push(object);
      for (let i = 2; i < node.length; i += 2) setOwn(object, build(node[i], objects) as string, build(node[i + 1], objects), true);
      return object;
    }
    case Tag.DenseArray: {
      const array = new Array(node.length - 1);
      objects.push(array);
      for (let i = 1; i < node.length; i++) array[i - 1] = build(node[i], objects);
      return array;
    }
    case Tag.SparseArray: {
      const array = new Array(node[1] as number);
      objects.push(array);
      for (let i = 2; i < node.length; i += 2) {
        const key = node[i];
        setOwn(array as unknown as Record<string, unknown>, typeof key === "number" ? String(key) : (build(key, objects) as string), build(node[i + 1], objects), true);
      }
      return array;
    }
    case Tag.Map: {
      const map = new Map();
      objects.push(map);
      for (let i = 1; i < node.length; i += 2) {
        const key = build(node[i], objects);
        map.set(key, build(node[i + 1], objects));
      }
      return map;
    }
    case Tag.Set: {
      const set = new Set();
      objects.push(set);
      for (let i = 1; i < node.length; i++) set.add(build(node[i], objects));
      return set;
    }
    case Tag.Date:
      return pushed(objects, new Date(node[1] as number));
    case Tag.RegExp:
      return pushed(objects, new RegExp(node[1] as string, node[2] as string));
    case Tag.Error:
      return buildError(node, objects);
    case Tag.Buffer:
      return pushed(objects, buildBuffer(node[1] as ArrayBufferLike, node[2] as number | null));
    case Tag.View: {
      const id = objects.push(undefined) - 1;
      const Class = VIEW_CLASSES[node[1] as number];
      if (!Class) throw new InvalidArgumentError(`unknown view class ${node[1]} in an exact value`);
      const buffer = build(node[2], objects) as ArrayBufferLike;
      const length = node[4] as number | null;
      objects[id] = length === null ? new Class(buffer, node[3] as number) : new Class(buffer, node[3] as number, length);
      return objects[id];
    }
    case Tag.Boxed:
      return pushed(objects, Object(build(node[1], objects)));
    default:
      throw new InvalidArgumentError(`unknown node ${tag} in an exact value`);
  }
}

function pushed<T>(objects: unknown[], value: T): T {
  objects.push(value);
  return value;
}

/** Sets an own property; "__proto__" by definition, as a plain assignment would set the prototype instead. */
function setOwn(target: Record<string, unknown>, key: string, value: unknown, enumerable: boolean): void {
  if (key === "__proto__" || !enumerable) Object.defineProperty(target, key, { value, writable: true, enumerable, configurable: true });
  else target[key] = value;
}

function buildError(node: unknown[], objects: unknown[]): Error {
  const Class = ERROR_CLASSES[node[1] as string] ?? Error;
  // Made by its own class (a real Error, with its stack slot); what it had of its own is then set as it was.
  const error = (Class === (AggregateError as unknown) ? new (Class as unknown as AggregateErrorConstructor)([]) : new Class()) as Error & Record<string, unknown>;
  delete error.errors;
  objects.push(error);
  let hadStack = false;
  for (let i = 2; i < node.length; i += 3) {
    const key = build(node[i], objects) as string;
    if (key === "stack") hadStack = true;
    setOwn(error, key, build(node[i + 2], objects), node[i + 1] as boolean);
  }
  if (!hadStack) delete error.stack;
  return error;
}

function buildBuffer(bytes: ArrayBufferLike, maxByteLength: number | null): ArrayBufferLike {
  if (maxByteLength === null) return bytes;
  const Class = bytes instanceof SharedArrayBuffer ? SharedArrayBuffer : ArrayBuffer;
  const buffer = new Class(bytes.byteLength, { maxByteLength } as never);
  new Uint8Array(buffer).set(new Uint8Array(bytes));
  return buffer;
}

function fromUnits(units: Uint16Array): string {
  let text = "";
  for (let i = 0; i < units.length; i += 8192) text += String.fromCharCode(...units.subarray(i, i + 8192));
  return text;
}
