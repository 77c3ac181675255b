/** Copies of a few bytes by loop (the hot messages' pieces), more by set(): the same bytes, and the same errors. */
import { describe, expect, test } from "bun:test";
import { copyBytes } from "../../src/_util/copy-bytes.ts";

describe("copyBytes", () => {
  test("copies every length, short (by loop) and long (by set), to any offset, and returns the offset after it", () => {
    for (const length of [0, 1, 5, 31, 32, 33, 100]) {
      const source = Uint8Array.from({ length }, (_, i) => (i * 7 + 1) & 0xff);
      for (const at of [0, 3]) {
        const target = new Uint8Array(at + length + 2).fill(0xee);
        expect(copyBytes(target, at, source)).toBe(at + length);
        expect([...target]).toEqual([...new Array(at).fill(0xee), ...source, 0xee, 0xee]);
      }
    }
  });

  test("a piece that does not fit throws RangeError, as set() does, short or long (never a silently cut copy)", () => {
    for (const length of [3, 32, 40]) {
      const target = new Uint8Array(length + 1);
      expect(() => copyBytes(target, 2, new Uint8Array(length))).toThrow(RangeError);
    }
  });
});
