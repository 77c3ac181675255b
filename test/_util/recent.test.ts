/** The bounded "recently seen" maps: the newest keys kept, the oldest generation forgotten whole. */
import { describe, expect, test } from "bun:test";
import { Recent, recentIds } from "../../src/_util/recent.ts";

describe.each([
  ["Recent", () => new Recent<number, string>(1000)],
  ["recentIds (IdTable generations)", () => recentIds<string>(1000)],
])("%s", (_, make) => {
  test("keeps at least the last `capacity` ids with their values and forgets what is two generations old", () => {
    const recent = make();
    // Ids in about increasing order, as wire ids are released, some out of order and some far apart.
    const ids = Array.from({ length: 5000 }, (_, i) => (i % 7 === 3 ? i * 3 + 2 ** 33 : i * 3));
    for (const id of ids) recent.set(id, `gone ${id}`);
    const last = ids.slice(-1000);
    expect(last.map((id) => recent.get(id))).toEqual(last.map((id) => `gone ${id}`));
    expect(last.every((id) => recent.has(id))).toBe(true);
    expect(ids.slice(0, 2000).some((id) => recent.has(id))).toBe(false);
    expect([recent.get(1), recent.has(1)]).toEqual([undefined, false]);
  });
});
