/**
 * The hand-written `call` message, decoded as its receivers decode it: the
 * connection unpacks the frame body with the runtime's codec into
 * [Command, "call", [tessera, task, method, args, refs, seq]], the worker
 * turns each wire reference back with referenceFromWire, and the tessera's
 * thread decodes the argument bytes with the value codec (with the values of
 * their dependencies when the head sent those with the call).
 */
import { describe, expect, test } from "bun:test";
import { unpackMultiple } from "msgpackr";
import { decodeMessage } from "../../../src/comms/codec.ts";
import { MessageKind } from "../../../src/comms/protocol.ts";
import { decodeCallMessage, encodeCallMessage, type InlineValue, referenceFromWire, type WireReference } from "../../../src/actors/wire/call-message.ts";
import { decodeValue, encodeValue, type ReferenceLike, registerReferenceClass, type TaskReference } from "../../../src/actors/wire/value-codec.ts";
import { decodeArgs } from "../../../src/actors/thread/values.ts";
import { DependencyError } from "../../../src/errors.ts";

interface Received {
  tessera: number;
  task: number;
  method: string;
  args: unknown;
  refs: TaskReference[];
  seq: number;
}

/** What a worker makes of the frame body (payloads travel beside it, as they do on the wire). */
function receive(body: Uint8Array, payloads: Uint8Array[] = []): Received {
  const message = decodeMessage(body) as unknown as [number, string, [number, number, string, Uint8Array, WireReference[], number]];
  expect(message.slice(0, 2)).toEqual([MessageKind.Command, "call"]);
  const [tessera, task, method, bytes, refs, seq] = message[2];
  expect(bytes).toBeInstanceOf(Uint8Array);
  return { tessera, task, method, args: decodeValue(bytes, payloads), refs: refs.map(referenceFromWire), seq };
}

function send(tessera: number, task: number, method: string, args: unknown[], refs: TaskReference[], seq: number): Received {
  const encoded = encodeValue(args);
  return receive(encodeCallMessage(tessera, task, method, encoded.bytes, refs, seq), encoded.payloads);
}

describe("the call message", () => {
  test("a call decodes to its tessera, task, method, arguments, references and place in order", () => {
    expect(send(1, 2, "append", [1, "two", { three: [3] }], [], 1)).toEqual({
      tessera: 1,
      task: 2,
      method: "append",
      args: [1, "two", { three: [3] }],
      refs: [],
      seq: 1,
    });
  });

  test("ids and seq of every msgpack integer width come back exact, past 2^32 up to 2^53", () => {
    for (const value of [0, 127, 128, 255, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]) {
      const { tessera, task, seq } = send(value, value, "m", [], [], value);
      expect({ value, tessera, task, seq }).toEqual({ value, tessera: value, task: value, seq: value });
    }
  });

  test("method names of each msgpack string width it writes (fixstr, str 8, str 16, str 32), and non-ASCII ones, come back as they were", () => {
    for (const method of ["a", "x".repeat(31), "x".repeat(32), "y".repeat(255), "z".repeat(256), "z".repeat(65_535), "w".repeat(65_536), "größe", "计算"]) {
      expect(send(1, 1, method, [], [], 1).method).toBe(method);
    }
  });

  test("argument bodies of every msgpack bin width (under 256 bytes, under 64 KiB, larger) come back whole", () => {
    for (const length of [0, 200, 255, 256, 60_000, 65_535, 65_536, 300_000]) {
      // Strings stay in the body (arrays of 1 KiB or more would leave it as raw payloads).
      const text = "s".repeat(length);
      const { bytes } = encodeValue([text]);
      const body = encodeCallMessage(3, 4, "echo", bytes, [], 5);
      const [, , details] = decodeMessage(body) as unknown as [number, string, [number, number, string, Uint8Array]];
      expect({ length, bytes: details[3].byteLength }).toEqual({ length, bytes: bytes.byteLength });
      expect(decodeValue(details[3])).toEqual([text]);
    }
  });

  test("large arrays among the arguments travel as raw payloads beside the message and decode from them", () => {
    const large = Float64Array.from({ length: 4096 }, (_, i) => i / 2);
    const encoded = encodeValue([large, "small"]);
    expect(encoded.payloads.length).toBe(1);
    const received = receive(encodeCallMessage(1, 2, "sum", encoded.bytes, [], 3), encoded.payloads);
    expect(received.args).toEqual([large, "small"]);
  });

  test("task references, with whole results, elements and done markers, come back as the references they were", () => {
    const refs: TaskReference[] = [
      { id: 7, worker: "worker:0:0", task: "task-recorder-append-7" },
      { id: 2 ** 40, worker: "worker:12:3", task: "task-numbers-range-x", index: 2 },
      { id: 9, worker: "worker:0:1", task: "task-sleeper-nap-9", index: "done" },
    ];
    expect(send(1, 2, "sum", [1], refs, 4).refs).toEqual(refs);
  });

  test("the message is sized exactly: one msgpack value in memory of its own, nothing after it", () => {
    const encoded = encodeValue([1, 2, 3]);
    const body = encodeCallMessage(300, 70_000, "method", encoded.bytes, [{ id: 1, worker: "w", task: "t" }], 2 ** 33);
    expect({ values: unpackMultiple(body).length, ownMemory: body.buffer.byteLength === body.byteLength }).toEqual({ values: 1, ownMemory: true });
  });
});

describe("the call message read by hand (a tessera thread's fast path)", () => {
  test("reads every call without references as the generic decode does: integer widths, name and argument sizes", () => {
    const names = ["a", "x".repeat(31), "x".repeat(32), "y".repeat(255), "z".repeat(256), "größe", "计算", "a", "b"];
    const numbers = [0, 127, 128, 255, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER];
    const argumentLists = [[], [1], ["x".repeat(300)], ["y".repeat(70_000)]];
    for (const [i, value] of numbers.entries()) {
      const method = names[i % names.length]!;
      const args = encodeValue(argumentLists[i % argumentLists.length]).bytes;
      const body = encodeCallMessage(value, numbers[numbers.length - 1 - i]!, method, args, [], value);
      expect(decodeCallMessage(body)).toEqual((decodeMessage(body) as unknown as [number, string, unknown])[2] as never);
    }
  });

  test("leaves to the generic decode what it does not read: references, another command, a body cut short or with more after it", () => {
    const args = encodeValue([1]).bytes;
    const withRefs = encodeCallMessage(1, 2, "m", args, [{ id: 7, worker: "worker:0:0", task: "t" }], 3);
    const plain = encodeCallMessage(1, 2, "m", args, [], 3);
    const other = encodeCallMessage(1, 2, "m", args, [], 3);
    other[3] = "k".charCodeAt(0); // "call" → "kall"
    const read = [withRefs, other, plain.subarray(0, plain.length - 1), Uint8Array.of(...plain, 0)].map((body) => decodeCallMessage(body));
    expect(read).toEqual([undefined, undefined, undefined, undefined]);
    expect(decodeCallMessage(plain)).toEqual([1, 2, "m", args, [], 3] as never);
  });
});

/** A task reference among arguments, as the head's task proxies and outputs write one. */
class Reference implements ReferenceLike {
  constructor(readonly reference: TaskReference) {}
  toReference(): TaskReference {
    return this.reference;
  }
}
registerReferenceClass(Reference);

/** A dependency value that is all of `bytes`. */
const whole = (key: string | number, bytes: Uint8Array): InlineValue => [key, bytes, 0, bytes.length];

describe("the call message read in place (bytes start to end of a socket chunk)", () => {
  test("reads exactly its bytes, with or without dependency values; its arguments are a copy, not a view of the chunk", () => {
    const args = encodeValue([1, "two", 3.5]).bytes;
    for (const deps of [undefined, [whole("task-a-b-1", encodeValue({ x: 1 }).bytes)]]) {
      const body = encodeCallMessage(2 ** 33, 7, "add", args, [], 9, deps);
      const chunk = Uint8Array.of(0x93, 1, 2, ...body, 0x93, 0xa4, 5);
      const start = 3;
      const end = start + body.length;
      const read = decodeCallMessage(chunk, start, end)!;
      const expected = decodeCallMessage(body);
      chunk.fill(0);
      expect(read).toEqual(expected as never);
      expect(read[3].byteLength === read[3].buffer.byteLength).toBe(true);
      const again = Uint8Array.of(0x93, 1, 2, ...body, 0x93, 0xa4, 5);
      expect([[start, end - 1], [start, end + 1], [start + 1, end]].map(([from, to]) => decodeCallMessage(again, from, to))).toEqual([undefined, undefined, undefined]);
    }
  });
});

describe("a call with its dependency values (the head sends it straight to the tessera's thread)", () => {
  const producer = (id: number, uid: string) => ({ id, worker: "worker:0:0", task: uid });

  test("reads by hand as the generic decode does: the values follow the arguments in the same bytes, at their places", () => {
    // Named by task id (the head's usual key: uints of every width), or by uid (a retried task's; non-ASCII too).
    const ids = [1, 127, 128, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 40];
    const uids = ["task-numbers-range-1", "task-größe-计算-2", `task-${"long".repeat(20)}-3`, ...Array.from({ length: 5 }, (_, i) => `task-n-m-${i}`)].flatMap((uid, i) => [uid, ids[i]!]);
    // As a batch of completions carries them: end to end in one array (after bytes of other results), each sent from its place.
    const encoded = uids.map((_, i) => encodeValue({ i, text: "v".repeat(i * 100) }).bytes);
    const batch = new Uint8Array(3 + encoded.reduce((total, bytes) => total + bytes.length, 0)).fill(0xc1);
    let at = 3;
    const values = uids.map((uid, i): InlineValue => {
      batch.set(encoded[i]!, at);
      return [uid, batch, at, (at += encoded[i]!.length)];
    });
    for (const deps of [values.slice(0, 1), values.slice(0, 3), values, []]) {
      const args = encodeValue(["x".repeat(300), deps.length]).bytes;
      const body = encodeCallMessage(2 ** 33, 70_000, "sum", args, [], 9, deps);
      const call = decodeCallMessage(body)!;
      expect(call).toEqual((decodeMessage(body) as unknown as [number, string, unknown])[2] as never);
      const [, , , bytes, refs, seq, places] = call;
      expect({ refs, seq, argsLength: places![0], read: bytes.subarray(0, places![0]) }).toEqual({ refs: [], seq: 9, argsLength: args.length, read: args });
      const read = [];
      for (let i = 1; i < places!.length; i += 3) read.push([places![i], decodeValue(bytes.subarray(places![i + 1] as number, places![i + 2] as number))]);
      expect(read).toEqual(deps.map(([uid], i) => [uid, { i, text: "v".repeat(i * 100) }]));
    }
  });

  test("its thread decodes the arguments as it does a call the worker's main thread posted: whole results, elements, fields, done markers", () => {
    const range = producer(1, "task-numbers-range-1");
    const point = producer(2, "task-numbers-point-2");
    const refs = [range, { ...range, index: 1 }, { ...point, index: "y" }, { ...producer(3, "task-sleeper-nap-3"), index: "done" }];
    const args = encodeValue(["plain", ...refs.map((ref) => new Reference(ref))]);
    const deps = [
      whole(range.task, encodeValue([1, 2, 3]).bytes),
      whole(point.task, encodeValue({ x: 4, y: 8 }).bytes),
    ];
    const [, , , bytes, , , places] = decodeCallMessage(encodeCallMessage(1, 2, "use", args.bytes, [], 3, deps))!;
    // As head-link.ts posts it to the executor.
    expect(decodeArgs([Uint8Array.prototype.slice.call(bytes), args.payloads], places!)).toEqual(["plain", [1, 2, 3], 2, 8]);
  });

  test("values named by task id go to the references with that id (whatever uid they carry), values named by uid to those with that uid; a value for no reference is a DependencyError", () => {
    const range = producer(70_000, "task-numbers-range-1");
    const point = producer(2, "task-numbers-point-2");
    const args = encodeValue(["plain", new Reference(range), new Reference({ ...point, index: "y" }), new Reference({ ...range, index: 2 })]);
    const decode = (deps: InlineValue[]) => {
      const [, , , bytes, , , places] = decodeCallMessage(encodeCallMessage(1, 2, "use", args.bytes, [], 3, deps))!;
      return decodeArgs([Uint8Array.prototype.slice.call(bytes), args.payloads], places!);
    };
    const rangeValue = encodeValue([1, 2, 3]).bytes;
    const pointValue = encodeValue({ x: 4, y: 8 }).bytes;
    const expected = ["plain", [1, 2, 3], 8, 3];
    expect(decode([whole(70_000, rangeValue), whole(2, pointValue)])).toEqual(expected);
    expect(decode([whole(2, pointValue), whole(range.task, rangeValue)])).toEqual(expected);
    // The id a reference was written with is what counts: a value named by another id is not its value.
    expect(() => decode([whole(70_001, rangeValue), whole(2, pointValue)])).toThrow(DependencyError);
    expect(() => decode([whole(70_000, rangeValue), whole("task-numbers-point-3", pointValue)])).toThrow(/dependency task-numbers-point-2 of this call did not arrive with it/);
  });

  test("leaves to the generic decode places it does not read: cut short, with more after them, or past the arguments", () => {
    const args = encodeValue([1]).bytes;
    const body = encodeCallMessage(1, 2, "m", args, [], 3, [whole("task-a", encodeValue(5).bytes)]);
    const wrongLength = body.slice();
    wrongLength[wrongLength.length - 4 - "task-a".length] = 0x7f; // its arguments' length (first of the places), past the bin
    const read = [body.subarray(0, body.length - 1), Uint8Array.of(...body, 0), wrongLength].map((cut) => decodeCallMessage(cut));
    expect(read).toEqual([undefined, undefined, undefined]);
  });
});
