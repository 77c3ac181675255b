/**
 * The value codec in-process: what encodeValue writes, decodeValue gives
 * back, with no runtime around it.
 */
import { describe, expect, test } from "bun:test";
import { PAYLOAD_MIN } from "../../../src/comms/codec.ts";
import { decodeValue, encodeValue, findUnsendable, type ReferenceLike, registerReferenceClass, type TaskReference } from "../../../src/actors/wire/value-codec.ts";

/** Stands for a task's result, as TaskProxy does (the codec's extension point, not a stand-in for the runtime). */
class Reference implements ReferenceLike {
  constructor(readonly reference: TaskReference) {}
  toReference(): TaskReference {
    return this.reference;
  }
}
registerReferenceClass(Reference);

function roundTrip<T>(value: T, resolve?: (reference: TaskReference) => unknown): T {
  const { bytes, payloads } = encodeValue(value);
  return decodeValue(bytes, payloads, resolve) as T;
}

const TYPED_ARRAYS = [
  Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Float32Array, Float64Array, BigInt64Array, BigUint64Array,
  ...(typeof Float16Array === "undefined" ? [] : [Float16Array]),
] as const;

/** `n` elements of `Type`, element i holding i % 100 (as a bigint for the 64-bit integer kinds). */
function filled(Type: (typeof TYPED_ARRAYS)[number], n: number): ArrayBufferView & { length: number } {
  const array = new Type(n);
  const big = array instanceof BigInt64Array || array instanceof BigUint64Array;
  for (let i = 0; i < n; i++) (array as unknown as (number | bigint)[])[i] = big ? BigInt(i % 100) : i % 100;
  return array;
}

describe("values round-trip through encodeValue and decodeValue", () => {
  test("primitives, records, arrays, Set, Date, RegExp, BigInt and Error keep their kind and content", () => {
    const value = {
      text: "é€😀",
      int: 42,
      float: 1.5,
      nan: Number.NaN,
      inf: -Infinity,
      yes: true,
      nothing: null,
      missing: undefined,
      big: 2n ** 70n,
      negativeBig: -5n,
      when: new Date(5),
      pattern: /a+b/gi,
      set: new Set([1, "a", [2]]),
      nested: [1, [2, [3, { deep: "yes" }]]],
    };
    expect(roundTrip(value)).toEqual(value);
    const error = roundTrip(new TypeError("boom"));
    expect({ isTypeError: error instanceof TypeError, name: error.name, message: error.message }).toEqual({ isTypeError: true, name: "TypeError", message: "boom" });
  });

  test("a Map comes back as a Map (with its non-string keys) and a plain object as a plain object", () => {
    const map = new Map<unknown, unknown>([[1, "one"], ["k", { y: 2 }], [true, [3]]]);
    const object = { 1: "one", k: { y: 2 } };
    const back = roundTrip({ map, object });
    expect(back.map).toBeInstanceOf(Map);
    expect([...back.map]).toEqual([...map]);
    expect(Object.getPrototypeOf(back.object)).toBe(Object.prototype);
    expect(back.object).toEqual(object);
  });

  test("every typed array, small ones inline and large ones as raw payloads, comes back as the same kind with the same elements", () => {
    for (const Type of TYPED_ARRAYS) {
      for (const bytes of [16, PAYLOAD_MIN - Type.BYTES_PER_ELEMENT, PAYLOAD_MIN, 64 * 1024]) {
        const array = filled(Type, bytes / Type.BYTES_PER_ELEMENT);
        const encoded = encodeValue(array);
        expect({ kind: Type.name, bytes, payloads: encoded.payloads.length }).toEqual({ kind: Type.name, bytes, payloads: bytes >= PAYLOAD_MIN ? 1 : 0 });
        const back = decodeValue(encoded.bytes, encoded.payloads);
        expect(back).toBeInstanceOf(Type);
        expect(back).toEqual(array);
      }
    }
  });

  test("ArrayBuffer, SharedArrayBuffer and DataView keep their kind, small or large", () => {
    for (const size of [3, 4096]) {
      const buffer = new Uint8Array(size).map((_, i) => i % 251).buffer;
      const shared = new SharedArrayBuffer(size);
      new Uint8Array(shared).set(new Uint8Array(buffer));
      const view = new DataView(buffer, 1, size - 2);
      const back = roundTrip({ buffer, shared, view });
      expect(back.buffer).toBeInstanceOf(ArrayBuffer);
      expect(back.shared).toBeInstanceOf(SharedArrayBuffer);
      expect(back.view).toBeInstanceOf(DataView);
      expect([...new Uint8Array(back.buffer)]).toEqual([...new Uint8Array(buffer)]);
      expect([...new Uint8Array(back.shared)]).toEqual([...new Uint8Array(shared)]);
      expect([...new Uint8Array(back.view.buffer, back.view.byteOffset, back.view.byteLength)]).toEqual([...new Uint8Array(buffer, 1, size - 2)]);
    }
  });

  test("a large array's raw payload is its memory as it is, not a copy, and a slice sends only its own elements", () => {
    const whole = Float64Array.from({ length: 1024 }, (_, i) => i);
    const slice = whole.subarray(8, 520);
    const { payloads } = encodeValue([whole, slice]);
    expect(payloads.map((payload) => [payload.buffer === whole.buffer, payload.byteOffset, payload.byteLength])).toEqual([
      [true, 0, 8192],
      [true, 64, 4096],
    ]);
  });

  test("a raw payload that suits the array's alignment becomes its memory (a view); a misaligned one is copied to aligned memory", () => {
    const array = Float64Array.from({ length: 512 }, (_, i) => i / 2);
    const { bytes } = encodeValue(array);
    // As a received chunk would hold them: at offset 8 (aligned for Float64) and at offset 4 (not).
    const alignedPayload = new Uint8Array(new ArrayBuffer(4096 + 16), 8, 4096);
    const misalignedPayload = new Uint8Array(new ArrayBuffer(4096 + 16), 4, 4096);
    for (const payload of [alignedPayload, misalignedPayload]) payload.set(new Uint8Array(array.buffer));
    const fromAligned = decodeValue(bytes, [alignedPayload]) as Float64Array;
    const fromMisaligned = decodeValue(bytes, [misalignedPayload]) as Float64Array;
    expect({ sameMemory: fromAligned.buffer === alignedPayload.buffer, offset: fromAligned.byteOffset }).toEqual({ sameMemory: true, offset: 8 });
    expect({ sameMemory: fromMisaligned.buffer === misalignedPayload.buffer, aligned: fromMisaligned.byteOffset % 8 === 0 }).toEqual({ sameMemory: false, aligned: true });
    expect(fromAligned).toEqual(array);
    expect(fromMisaligned).toEqual(array);
  });

  test("a value that refers to a raw payload that did not arrive fails with a clear error", () => {
    const { bytes } = encodeValue(new Float32Array(1024));
    expect(() => decodeValue(bytes, [])).toThrow("refers to raw payload 0, which did not arrive");
  });
});

describe("task references", () => {
  const first: TaskReference = { id: 7, task: "task-a-7", worker: "worker:0:0" };
  const element: TaskReference = { id: 2 ** 40, task: "task-b-x", worker: "worker:0:1", index: 3 };
  const done: TaskReference = { id: 9, task: "task-c-9", worker: "worker:1:0", index: "done" };

  test("references in a value are collected by the encoder, in order, wherever they are nested", () => {
    const encoded = encodeValue([new Reference(first), { inside: [new Reference(element)] }, new Map([["k", new Reference(done)]])]);
    expect(encoded.references).toEqual([first, element, done]);
  });

  test("the decoder replaces each reference by what the resolver returns for it, or leaves the reference when there is none", () => {
    const value = [new Reference(first), { inside: [new Reference(element)] }, new Reference(done)];
    const resolved = roundTrip(value, (reference) => `value of ${reference.task}[${reference.index ?? ""}]`);
    expect(resolved as unknown).toEqual(["value of task-a-7[]", { inside: ["value of task-b-x[3]"] }, "value of task-c-9[done]"]);
    expect(roundTrip(value) as unknown).toEqual([first, { inside: [element] }, done]);
  });
});

describe("findUnsendable", () => {
  test("names the path of a function, a symbol, a cycle and a class instance", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    class Point {
      constructor(readonly x: number) {}
    }
    expect({
      fn: findUnsendable([{ list: [1, { callback: () => 1 }] }]),
      symbol: findUnsendable([new Map([["k", { f: Symbol("s") }]])]),
      key: findUnsendable([new Map([[Symbol("key"), 1]])]),
      setItem: findUnsendable([new Set([1, () => 2])]),
      cycle: findUnsendable([cyclic]),
      instance: findUnsendable([1, new Point(2)], "values"),
    }).toEqual({
      fn: "args[0].list[1].callback is a function",
      symbol: 'args[0].get("k").f is a symbol',
      key: 'args[0]<key "Symbol(key)"> is a symbol',
      setItem: "args[0]<set item 1> is a function",
      cycle: "args[0].self is a cycle (an object that contains itself cannot be sent)",
      instance: "values[1] is an instance of Point, which has no codec (send plain objects, arrays, Map, Set, Date, typed arrays)",
    });
  });

  test("accepts every sendable kind, and a value reached twice without a cycle", () => {
    const shared = { x: 1 };
    const value = [1, "a", null, undefined, 2n, new Date(0), /r/, new Error("e"), new Float32Array(2), new ArrayBuffer(1), new Map([[1, shared]]), new Set([shared]), { shared, again: shared }, Object.create(null)];
    expect(findUnsendable(value)).toBeUndefined();
  });

  test("collects the references it meets on the way", () => {
    const found: ReferenceLike[] = [];
    const a = new Reference({ id: 1, task: "t1", worker: "w" });
    const b = new Reference({ id: 2, task: "t2", worker: "w" });
    expect(findUnsendable([a, { nested: [b] }], "args", found)).toBeUndefined();
    expect(found).toEqual([a, b]);
  });
});
