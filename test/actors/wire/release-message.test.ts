/**
 * The hand-written `release` command (what a worker can let go), read by the
 * generic decode as the worker reads it. (Not byte for byte msgpackr's: ids
 * from 128 to 255 take a uint 16 here, a uint 8 there.)
 */
import { describe, expect, test } from "bun:test";
import { decodeMessage } from "../../../src/comms/codec.ts";
import { MessageKind } from "../../../src/comms/protocol.ts";
import { RELEASE_MESSAGE } from "../../../src/actors/wire/release-message.ts";

function written(tesserae: number[], tasks: number[], at = 0): Uint8Array {
  const length = RELEASE_MESSAGE.prepare(tesserae, tasks);
  const body = new Uint8Array(at + length + 3).fill(0xee);
  RELEASE_MESSAGE.encodeInto(body, at);
  expect([...body.subarray(0, at), ...body.subarray(at + length)]).toEqual(new Array(at + 3).fill(0xee)); // exactly its length
  return body.subarray(at, at + length);
}

describe("the release message", () => {
  test("ids of every width (up to 2^53) in lists of every header size, read back by the generic decode", () => {
    const widths = [0, 1, 127, 128, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1];
    for (const count of [0, 1, 15, 16, 65_535, 65_536, 70_000]) {
      const tasks = Array.from({ length: count }, (_, i) => widths[i % widths.length]!);
      const tesserae = Array.from({ length: 2 * (count % 17) }, (_, i) => widths[(i * 5) % widths.length]!);
      const generic = decodeMessage(written(tesserae, tasks, count % 7)) as unknown as [number, string, [number[], number[]]];
      expect({ count, kind: generic[0], method: generic[1], tesserae: generic[2][0], tasks: generic[2][1] }).toEqual({
        count, kind: MessageKind.Command, method: "release", tesserae, tasks,
      });
    }
  });
});
