/**
 * The value codec in-process: what encodeValue writes, decodeValue gives
 * back, with no runtime around it.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { readdirSync, rmSync } from "node:fs";
import { PAYLOAD_MIN } from "../../../src/comms/codec.ts";
import { decodeValue, encodeValue, findUnsendable, type ReferenceLike, registerReferenceClass, scanArguments, scanValue, type TaskReference } from "../../../src/actors/wire/value-codec.ts";
import { difference } from "../../fixtures/_values.ts";
import { sharedArray } from "../../../src/api/shared-array.ts";
import { payloadSize, sharedArrayBytes } from "../../../src/comms/shared-memory/index.ts";
import { ProtocolError } from "../../../src/errors.ts";

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

  test("a large array's raw payload is its memory as it is, not a copy; a subarray goes with its whole buffer, as structuredClone copies it", () => {
    const whole = Float64Array.from({ length: 1024 }, (_, i) => i);
    const other = Float64Array.from({ length: 1024 }, (_, i) => -i);
    const slice = other.subarray(8, 520);
    const { payloads } = encodeValue([whole, slice]);
    expect(payloads.map((payload) => [payload.buffer === whole.buffer || payload.buffer === other.buffer, payload.byteOffset, payload.byteLength])).toEqual([
      [true, 0, 8192],
      [true, 0, 8192],
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

  test("-0 stays -0 as a plain number, in objects, arrays and Map values (change 1)", () => {
    const value = { a: -0, list: [-0, 0], map: new Map([["z", -0]]) };
    expect(Object.is(roundTrip(-0), -0)).toBe(true);
    expect(difference(structuredClone(value), roundTrip(value))).toBeUndefined();
  });

  test("holes stay holes, and a[1e6] = 1 on an empty array arrives as one element, not a million (change 2)", () => {
    const sparse: number[] = [];
    sparse[1e6] = 1;
    const { bytes } = encodeValue(sparse);
    const back = roundTrip(sparse);
    expect({ size: bytes.byteLength < 100, length: back.length, keys: Object.keys(back), hole: 1 in roundTrip([1, , 3]) }).toEqual({ size: true, length: 1e6 + 1, keys: ["1000000"], hole: false });
  });

  test("lone surrogates survive in strings, object keys, Map keys and error messages (change 3)", () => {
    const value = { "\uD800": "a\uDC00", map: new Map([["\uDBFF", 1]]), error: new Error("\uD800") };
    const back = roundTrip(value);
    expect(difference(structuredClone({ ...value, error: 0 }), { ...back, error: 0 })).toBeUndefined();
    expect(back.error.message).toBe("\uD800");
  });

  test("an own __proto__ key arrives as an own __proto__ key, the prototype untouched (change 4)", () => {
    const value = JSON.parse('{"__proto__":5,"a":1}');
    expect(difference(structuredClone(value), roundTrip(value))).toBeUndefined();
  });

  test("shared references and cycles arrive shared: arrays, objects, Maps, Dates, typed arrays, buffers, a Map key that is also its value (change 5)", () => {
    const object = { o: 1 };
    const list = [1];
    const date = new Date(3);
    const floats = new Float32Array(4);
    const buffer = new ArrayBuffer(8);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const value = { a: [object, object], b: [list, list], c: [date, date], d: [floats, floats], e: [buffer, buffer], map: new Map([[object, object]]), cycle };
    const back = roundTrip(value);
    expect(difference(structuredClone(value), back)).toBeUndefined();
    expect(back.map.keys().next().value).toBe(back.a[0]);
  });

  test("typed-array views keep their place: byteOffset, their buffer, two views of one buffer on one buffer (change 6)", () => {
    const buffer = new ArrayBuffer(4096);
    const value = { b: buffer, v: new Float64Array(buffer, 8, 4), w: new Uint8Array(buffer, 1024, 2048), small: new Int16Array(new ArrayBuffer(64), 2, 3) };
    const back = roundTrip(value);
    expect(difference(structuredClone(value), back)).toBeUndefined();
    expect([back.v.buffer === back.b, back.w.buffer === back.b, back.v.byteOffset]).toEqual([true, true, 8]);
  });

  test("views on a SharedArrayBuffer arrive on one; resizable and growable buffers stay so, with their maxByteLength and length-tracking views (change 7)", () => {
    const resizable = new ArrayBuffer(8, { maxByteLength: 32 });
    const value = {
      onShared: new Uint8Array(new SharedArrayBuffer(16), 4, 4),
      resizable,
      tracking: new Uint16Array(resizable),
      fixed: new Uint16Array(resizable, 0, 4),
      growable: new SharedArrayBuffer(8, { maxByteLength: 32 }),
    };
    const back = roundTrip(value);
    expect(difference(structuredClone({ ...value, onShared: 0, growable: 0 }), { ...back, onShared: 0, growable: 0 })).toBeUndefined();
    expect([back.onShared.buffer instanceof SharedArrayBuffer, back.onShared.byteOffset, back.growable.growable, back.growable.maxByteLength]).toEqual([true, 4, true, 32]);
  });

  test("errors keep their class, message, stack, cause, AggregateError errors and own properties such as code, and gain no cause (change 8)", () => {
    const error = Object.assign(new TypeError("boom", { cause: { x: 1 } }), { code: "E_BOOM" });
    const back = roundTrip(error);
    expect([back instanceof TypeError, back.message, back.stack, back.cause, back.code]).toEqual([true, "boom", error.stack, { x: 1 }, "E_BOOM"]);
    expect(Object.hasOwn(roundTrip(new Error("plain")), "cause")).toBe(false);
    const aggregate = roundTrip(new AggregateError([new RangeError("a"), 2], "many"));
    expect([aggregate instanceof AggregateError, aggregate.message, aggregate.errors.length, aggregate.errors[0] instanceof RangeError, aggregate.errors[1]]).toEqual([true, "many", 2, true, 2]);
  });

  test("named properties on arrays come along (change 9)", () => {
    const value = Object.assign([1, 2], { label: "named" });
    expect(difference(structuredClone(value), roundTrip(value))).toBeUndefined();
  });

  test("values without any of these take the fast encoding: nothing of the exact one in their bytes", () => {
    const plain = encodeValue([1, "two", { three: [3] }, new Float32Array(4), new Map([[1, 2]])]);
    const exact = encodeValue([-0]);
    const marker = (bytes: Uint8Array) => bytes.some((byte, i) => byte === 0x58 && bytes[i - 1]! >= 0xc7 && bytes[i - 1]! <= 0xd8);
    expect([marker(plain.bytes), marker(exact.bytes)]).toEqual([false, true]);
  });

  test("a value that refers to a raw payload that did not arrive fails with a clear error", () => {
    const { bytes } = encodeValue(new Float32Array(1024));
    expect(() => decodeValue(bytes, [])).toThrow("refers to raw payload 0, which did not arrive");
  });
});

describe("argument lists (the call's fast path: primitives need no walk)", () => {
  /** An argument list as a call gets it: rest parameters. */
  const args = (...list: unknown[]) => list;

  test("primitives that plain msgpack would change (-0, lone surrogates) send the list through the exact encoding, as the walk does", () => {
    for (const list of [args(1, "a", true, null, undefined, 2n), args(-0), args("x", "\ud800"), args()]) {
      const fast = scanArguments(list);
      expect({ list, ...fast }).toEqual({ list, ...scanValue(list, "args") });
      const encoded = encodeValue(list, false, "args", fast.exact);
      expect(difference(structuredClone(list), decodeValue(encoded.bytes, encoded.payloads))).toBeUndefined();
    }
    expect(Object.is((decodeValue(encodeValue(args(-0), false, "args", true).bytes, []) as unknown[])[0], -0)).toBe(true);
  });

  test("an object, a function or a hole among them is walked: what cannot travel is named by its path, references are found", () => {
    expect(scanArguments(args(1, () => 1)).problem).toBe("args[1] is a function");
    expect(scanArguments(args(1, { f: Symbol("s") })).problem).toBe("args[1].f is a symbol");
    const found: unknown[] = [];
    const reference = new Reference({ id: 1, worker: "worker:0:0", task: "t" });
    expect(scanArguments(args(1, reference), found)).toEqual({ problem: undefined, exact: false });
    expect(found).toEqual([reference]);
    // eslint-disable-next-line no-sparse-arrays
    expect(scanArguments([1, , 3]).exact).toBe(true);
  });

  test("references among primitives are found without a walk, in order, as the walk finds them; an object that only claims a reference's prototype is walked and refused", () => {
    const first = new Reference({ id: 1, worker: "worker:0:0", task: "t1" });
    const second = new Reference({ id: 2, worker: "worker:0:1", task: "t2" });
    for (const list of [args(first, 2, second, first), args(1, first, { x: second })]) {
      const fast: unknown[] = [];
      const walked: unknown[] = [];
      expect(scanArguments(list, fast)).toEqual(scanValue(list, "args", walked));
      expect(fast).toEqual(walked);
    }
    const impostor = new Proxy({ x: 1 }, { getPrototypeOf: () => Reference.prototype });
    const found: unknown[] = [];
    expect(scanArguments(args(impostor), found).problem).toBe("args[0] is an instance of Object, which has no codec (send plain objects, arrays, Map, Set, Date, RegExp, Error, typed arrays, or register the class: mosaic.register(Class))");
    expect(found).toEqual([]);
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
  test("names the path of a function, a symbol and a class instance, and accepts a cycle", () => {
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
      cycle: undefined, // structuredClone keeps cycles, and so does the exact encoding
      instance: "values[1] is an instance of Point, which has no codec (send plain objects, arrays, Map, Set, Date, RegExp, Error, typed arrays, or register the class: mosaic.register(Class))",
    });
  });

  test("refuses subclasses of built-ins (Map, Date, Array, Error, Node's Buffer), naming the built-in (change 11)", () => {
    class MyMap extends Map {}
    class MyDate extends Date {}
    class MyArray extends Array {}
    class MyError extends Error {}
    expect([new MyMap(), new MyDate(0), MyArray.from([1]), new MyError("e"), Buffer.from("ab")].map((value) => findUnsendable({ value }))).toEqual([
      "args.value is an instance of MyMap, a subclass of Map, which has no codec (send plain objects, arrays, Map, Set, Date, RegExp, Error, typed arrays, or register the class: mosaic.register(Class))",
      "args.value is an instance of MyDate, a subclass of Date, which has no codec (send plain objects, arrays, Map, Set, Date, RegExp, Error, typed arrays, or register the class: mosaic.register(Class))",
      "args.value is an instance of MyArray, a subclass of Array, which has no codec (send plain objects, arrays, Map, Set, Date, RegExp, Error, typed arrays, or register the class: mosaic.register(Class))",
      "args.value is an instance of MyError, a subclass of Error, which has no codec (send plain objects, arrays, Map, Set, Date, RegExp, Error, typed arrays, or register the class: mosaic.register(Class))",
      "args.value is an instance of Buffer, a subclass of Uint8Array, which has no codec (send plain objects, arrays, Map, Set, Date, RegExp, Error, typed arrays, or register the class: mosaic.register(Class))",
    ]);
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

describe("shared arrays in a value", () => {
  // This process's shared-array files (a test process's exit hooks do not run under bun test).
  afterAll(() => {
    for (const name of readdirSync("/dev/shm")) if (name.includes(`-${process.pid}-array-`)) rmSync(`/dev/shm/${name}`, { force: true });
  });

  test("encoding takes a shared array from the program (detached) and its payload stands for it by size; a payload of another size is refused, not read as an empty array", () => {
    const array = sharedArray(Float64Array, 1000).fill(3);
    const { bytes, payloads } = encodeValue([array]);
    expect({ detached: array.length, payloads: payloads.length, size: payloadSize(payloads[0]!) }).toEqual({ detached: 0, payloads: 1, size: 8000 });
    // Over a socket the stand-in's bytes are mapped again (as Connection does off this machine).
    const [back] = decodeValue(bytes, [sharedArrayBytes(payloads[0]!)]) as [Float64Array];
    expect([back.constructor.name, back.length, back[0], back[999]]).toEqual(["Float64Array", 1000, 3, 3]);
    // In the process that made it, the stand-in itself decodes (its name mapped again); a copy of it is refused.
    const [here] = decodeValue(bytes, payloads) as [Float64Array];
    expect([here.length, here[0]]).toEqual([1000, 3]);
    expect(() => decodeValue(bytes, [new Uint8Array(0)])).toThrow(ProtocolError);
    expect(() => decodeValue(bytes, [new Uint8Array(16)])).toThrow("a shared array of 8000 bytes arrived with 16");
  });
});
