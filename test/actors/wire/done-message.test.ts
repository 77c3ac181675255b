/**
 * The hand-written `done` command (a tessera thread's completions for the
 * head), read back by hand as the head reads it and by the generic decode as
 * any other runtime would.
 */
import { describe, expect, test } from "bun:test";
import { decodeMessage } from "../../../src/comms/codec.ts";
import { MessageKind } from "../../../src/comms/protocol.ts";
import { decodeDoneMessage, encodeDoneMessage } from "../../../src/actors/wire/done-message.ts";

describe("the done message", () => {
  test("ids and sizes of every width it writes (-1 for a result left on the worker), and the results, read back alike by hand and by the generic decode", () => {
    const widths = [0, 1, 127, 128, 65_535, 65_536, 2 ** 32 - 1];
    for (const count of [0, 1, 15, 16, 300, 70_000]) {
      const tasks = Array.from({ length: count }, (_, i) => widths[i % widths.length]!);
      const sizes = Array.from({ length: count }, (_, i) => (i % 3 === 2 ? -1 : i % 2));
      const results = Uint8Array.from({ length: sizes.reduce((total, size) => total + Math.max(size, 0), 0) }, (_, i) => i & 0xff);
      const body = encodeDoneMessage(tasks, sizes, results)!;
      const generic = decodeMessage(body) as unknown as [number, string, [number[], number[], Uint8Array]];
      expect({ count, kind: generic[0], method: generic[1], tasks: generic[2][0], sizes: generic[2][1], results: [...generic[2][2]] }).toEqual({
        count, kind: MessageKind.Command, method: "done", tasks, sizes, results: [...results],
      });
      expect(decodeDoneMessage(body)).toEqual([tasks, sizes, results]);
    }
  });

  test("the results read by hand are memory of their own, not a view of the received body", () => {
    const body = encodeDoneMessage([1, 2], [1, 1], Uint8Array.of(7, 8))!;
    const [, , results] = decodeDoneMessage(body)!;
    body.fill(0);
    expect({ results: [...results], own: results.byteLength === results.buffer.byteLength }).toEqual({ results: [7, 8], own: true });
  });

  test("read in place among other bytes (a socket chunk): exactly bytes start to end, the results copied out", () => {
    const tasks = [1, 300, 70_000];
    const sizes = [1, -1, 2];
    const body = encodeDoneMessage(tasks, sizes, Uint8Array.of(7, 8, 9))!;
    const chunk = Uint8Array.of(0x93, 1, 2, 3, 4, ...body, 0x93, 5, 6);
    const start = 5;
    const end = start + body.length;
    const read = decodeDoneMessage(chunk, start, end)!;
    chunk.fill(0);
    expect([read[0], read[1], [...read[2]]]).toEqual([tasks, sizes, [7, 8, 9]]);
    const again = Uint8Array.of(0x93, 1, 2, 3, 4, ...body, 0x93, 5, 6);
    expect([[start, end - 1], [start, end + 1], [start + 1, end], [start - 1, end]].map(([from, to]) => decodeDoneMessage(again, from, to))).toEqual([undefined, undefined, undefined, undefined]);
  });

  test("an id past 2^32 is left to the generic encoding; anything but a done command is left to the generic decode", () => {
    expect(encodeDoneMessage([2 ** 32], [1], Uint8Array.of(1))).toBeUndefined();
    const body = encodeDoneMessage([1], [1], Uint8Array.of(1))!;
    const renamed = body.slice();
    renamed[3] = "g".charCodeAt(0); // "done" → "gone"
    expect([renamed, body.subarray(0, body.length - 1), Uint8Array.of(...body, 0)].map((bytes) => decodeDoneMessage(bytes))).toEqual([undefined, undefined, undefined]);
  });
});
