/**
 * Argument lists encoded by hand (argument-bytes.ts) are the bytes the value
 * codec's packer gives the same lists, so a tessera's thread decodes them as
 * any other; lists the hand encoder does not take are left to the packer.
 */
import { describe, expect, test } from "bun:test";
import { decodePlainArguments, decodePlainValue, encodePlainArguments, NOT_PLAIN_VALUE } from "../../../src/actors/wire/argument-bytes.ts";
import { decodeValue, encodeValue, type ReferenceLike, registerReferenceClass, scanArguments, type TaskReference } from "../../../src/actors/wire/value-codec.ts";

/** Stands for a task (or one element of its result) among a call's arguments, as TaskProxy and TaskOutput do. */
class Ref implements ReferenceLike {
  constructor(readonly reference: TaskReference) {}
  toReference(unplaced = false): TaskReference {
    if (!this.reference.worker && !unplaced) throw new Error("not placed");
    return this.reference;
  }
}
registerReferenceClass(Ref);

const task = (id: number, worker = "worker:0:1", index?: number | string) =>
  new Ref({ id, task: `task-solver-add-${"0123456789abcdef".repeat(2)}${id.toString(16).padStart(12, "0")}`, worker, index });

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** The hand encoding of `args`, checked against the packer's (undefined when the hand encoder leaves them to it). */
function both(args: unknown[]): { hand: string | undefined; packer: string } {
  const references: ReferenceLike[] = [];
  const scan = scanArguments(args, references);
  expect(scan.problem).toBeUndefined();
  const hand = scan.exact ? undefined : encodePlainArguments(args, references);
  const packer = encodeValue(args, true, "args", scan.exact);
  if (hand) expect(hand.references).toEqual(packer.references);
  return { hand: hand && hex(hand.bytes), packer: hex(packer.bytes) };
}

const NUMBERS = [
  0, 1, 31, 32, 63, 64, 127, 128, 255, 256, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53, -1, -31, -32, -33, -127, -128, -129, -32767, -32768, -32769,
  -(2 ** 31), -(2 ** 31) - 1, 0.5, -2.25, 1e300, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MIN_VALUE,
];

describe("hand-encoded arguments", () => {
  test("numbers of every msgpack width are the packer's bytes", () => {
    for (const value of NUMBERS) {
      const { hand, packer } = both([value]);
      expect({ value, hand }).toEqual({ value, hand: packer });
    }
  });

  test("booleans, null, ASCII strings up to 255 characters and task references, mixed, are the packer's bytes and decode to the same values", () => {
    const lists: unknown[][] = [
      [true, false, null],
      ["", "a", "x".repeat(31), "y".repeat(32), "z".repeat(255)],
      [task(5)],
      [task(70_000), 3, task(2 ** 33, "worker:12:3")],
      [task(9, ""), "label", 2.5, null, task(10, "worker:0:0", 2), task(11, "worker:0:0", "done"), task(12, "worker:0:0", "key")],
      Array.from({ length: 15 }, (_, i) => (i % 3 === 0 ? task(i + 1) : i * 1000 - 7000)),
    ];
    for (const args of lists) {
      const { hand, packer } = both(args);
      expect(hand).toBe(packer);
      const decoded = decodeValue(Buffer.from(packer, "hex"), []) as unknown[];
      expect(decodeValue(Buffer.from(hand!, "hex"), [])).toEqual(decoded);
    }
  });

  test("anything else is left to the packer: objects, non-ASCII or long strings, bigints, undefined, more than 15 arguments, references inside values", () => {
    const lists: unknown[][] = [
      [{ a: 1 }],
      [[1, 2]],
      ["é"],
      ["x".repeat(256)],
      [5n],
      [undefined],
      Array.from({ length: 16 }, (_, i) => i),
      [[task(1)]],
      [new Float64Array(4)],
      [task(1, "worker:0:0", "clé")],
    ];
    for (const args of lists) {
      const references: ReferenceLike[] = [];
      scanArguments(args, references);
      expect(encodePlainArguments(args, references)).toBeUndefined();
    }
  });

  test("the hand decoder reads what both encoders write as the value codec does, references resolved in the same order", () => {
    const lists: unknown[][] = [
      NUMBERS.slice(0, 15),
      NUMBERS.slice(15, 30),
      NUMBERS.slice(30),
      [true, false, null, "", "x".repeat(31), "y".repeat(32), "z".repeat(255)],
      [task(9, ""), "label", 2.5, null, task(10, "worker:0:0", 2), task(11, "worker:0:0", "done"), task(12, "worker:0:0", "key"), task(9, "")],
    ];
    for (const args of lists) {
      const bytes = encodeValue(args, true).bytes;
      const seen: [string, unknown][] = [];
      const resolve = (reference: TaskReference) => {
        seen.push(["hand", reference]);
        return `value of ${reference.task}[${String(reference.index)}]`;
      };
      const expected: [string, unknown][] = [];
      const viaCodec = decodeValue(bytes, [], (reference) => {
        expected.push(["hand", reference]);
        return `value of ${reference.task}[${String(reference.index)}]`;
      });
      expect(decodePlainArguments(bytes, resolve)).toEqual(viaCodec as unknown[]);
      expect(seen).toEqual(expected);
    }
  });

  test("the hand decoder leaves everything else to the value codec: other values, UTF-8, truncated or trailing bytes", () => {
    const others: unknown[][] = [[{ a: 1 }], [[1]], [5n], ["é"], [new Float64Array(300)], [new Map()], [undefined], Array.from({ length: 16 }, (_, i) => i)];
    for (const args of others) expect(decodePlainArguments(encodeValue(args, true).bytes)).toBeUndefined();
    const bytes = encodeValue([task(3), 70_000, "label"], true).bytes;
    for (let cut = 0; cut < bytes.length; cut++) expect(decodePlainArguments(bytes.subarray(0, cut))).toBeUndefined();
    expect(decodePlainArguments(Uint8Array.of(...bytes, 0x01))).toBeUndefined();
    // A positive fixint from 0x40 is a record reference to the codec: never read as a number here.
    expect(decodePlainArguments(Uint8Array.of(0x91, 0x40))).toBeUndefined();
  });

  test("a small result reads as the value codec reads it; anything else is not plain", () => {
    for (const value of [...NUMBERS, true, false, null, "ok", "x".repeat(40)]) {
      const bytes = encodeValue(value).bytes;
      expect(decodePlainValue(bytes)).toEqual(decodeValue(bytes));
    }
    for (const value of [{ a: 1 }, [1], "é", 5n, undefined]) expect(decodePlainValue(encodeValue(value).bytes)).toBe(NOT_PLAIN_VALUE);
    expect(decodePlainValue(encodeValue([task(1)], true).bytes.subarray(1))).toBe(NOT_PLAIN_VALUE); // a reference alone: the codec's reader
  });

  test("references read with known uids (a call's dependency values) come back as written: a uid of the same length that differs, or a non-ASCII one, is not taken for one", () => {
    const refs = [task(1), task(2), task(3, "worker:0:0", 1)];
    const uids = refs.map((ref) => ref.reference.task);
    const { bytes } = encodePlainArguments(["x", ...refs, 7], refs)!;
    // Known: the first uid, a string of the same length as the second that differs in its last character, a non-ASCII one.
    const lookalike = `${uids[1]!.slice(0, -1)}f`;
    const known = [uids[0], 10, lookalike, 20, "tâsk", 30];
    const seen: string[] = [];
    const args = decodePlainArguments(bytes, (reference) => (seen.push(reference.task), reference.task), bytes.length, known)!;
    expect({ args, seen }).toEqual({ args: ["x", ...uids, 7], seen: uids });
    expect(decodePlainArguments(bytes, (reference) => reference.task, bytes.length, [uids[2], 0])).toEqual(["x", ...uids, 7]);
  });

  test("small results end to end (as a done message carries them) read in place, each exactly its bytes, as the value codec reads it", () => {
    const values = [...NUMBERS, true, false, null, "ok", "x".repeat(40), { a: 1 }, "é"];
    const encoded = values.map((value) => encodeValue(value).bytes);
    const all = Uint8Array.from(encoded.flatMap((bytes) => [...bytes]));
    let at = 0;
    for (const [i, bytes] of encoded.entries()) {
      const end = at + bytes.length;
      const plain = decodePlainValue(all, at, end);
      expect({ i, read: plain === NOT_PLAIN_VALUE ? "not plain" : plain }).toEqual({ i, read: i < values.length - 2 ? decodeValue(bytes) : "not plain" });
      // One byte short or one more: not that value.
      if (bytes.length > 1) expect(decodePlainValue(all, at, end - 1)).toBe(NOT_PLAIN_VALUE);
      if (end < all.length) expect(decodePlainValue(all, at, end + 1)).toBe(NOT_PLAIN_VALUE);
      at = end;
    }
  });
});

describe("references by task id alone (a call that goes with its values, named by those ids)", () => {
  class ById extends Ref {
    referenceById(): TaskReference {
      return { id: this.reference.id, task: "", worker: "", index: this.reference.index };
    }
  }
  registerReferenceClass(ById);
  const byId = (id: number, index?: number | string) => new ById({ id, task: `task-solver-add-${id}`, worker: "worker:0:1", index });

  test("written with their id and index, uid and worker empty, as the packer writes the same reference; read back by the same decode", () => {
    const args = [byId(70_000), 2.5, byId(5, 1), "x", byId(6, "done"), null];
    const references: ReferenceLike[] = [];
    scanArguments(args, references);
    const hand = encodePlainArguments(args, references, true)!;
    const expected = [{ id: 70_000, task: "", worker: "" }, { id: 5, task: "", worker: "", index: 1 }, { id: 6, task: "", worker: "", index: "done" }];
    expect(hand.references).toEqual(expected);
    const packer = encodeValue([new Ref(expected[0]!), 2.5, new Ref(expected[1]!), "x", new Ref(expected[2]!), null], true, "args");
    expect(hex(hand.bytes)).toBe(hex(packer.bytes));
    const seen: TaskReference[] = [];
    expect(decodePlainArguments(hand.bytes, (reference) => (seen.push(reference), `value of ${reference.id}`))).toEqual(["value of 70000", 2.5, "value of 5", "x", "value of 6", null]);
    expect(seen.map(({ id, index }) => [id, index])).toEqual([[70_000, undefined], [5, 1], [6, "done"]]);
  });

  test("left to the uid encoding when a reference has no id of its own to go by (a warehouse object)", () => {
    const args = [byId(1), task(2)];
    const references: ReferenceLike[] = [];
    scanArguments(args, references);
    expect(encodePlainArguments(args, references, true)).toBeUndefined();
    expect(encodePlainArguments(args, references)).toBeDefined();
  });
});
