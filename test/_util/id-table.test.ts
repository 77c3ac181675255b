import { describe, expect, test } from "bun:test";
import { IdTable } from "../../src/_util/id-table.ts";

describe("IdTable", () => {
  test("holds values by id across chunks, counts them, and lists them in increasing id order", () => {
    const table = new IdTable<string>();
    const ids = [5, 4095, 4096, 0, 2 ** 32 + 7, 123_456, 2 ** 40];
    for (const id of ids) table.set(id, `v${id}`);
    table.set(5, "again"); // replaced, not counted twice
    expect({ size: table.size, values: [...table.values()], ids: [...table.entries()].map(([id]) => id), got: ids.map((id) => table.get(id)), missing: table.get(6) }).toEqual({
      size: ids.length,
      ids: [0, 5, 4095, 4096, 123_456, 2 ** 32 + 7, 2 ** 40],
      values: ["v0", "again", "v4095", "v4096", "v123456", `v${2 ** 32 + 7}`, `v${2 ** 40}`],
      got: ["again", "v4095", "v4096", "v0", `v${2 ** 32 + 7}`, "v123456", `v${2 ** 40}`],
      missing: undefined,
    });
  });

  test("delete says whether the id was there; an emptied chunk goes, and ids in it can come back", () => {
    const table = new IdTable<number>();
    for (let id = 8000; id < 8200; id++) table.set(id, id);
    const deleted = [table.delete(8000), table.delete(8000), table.delete(1)];
    for (let id = 8001; id < 8200; id++) table.delete(id);
    const emptied = { size: table.size, values: [...table.values()], has: table.has(8100) };
    table.set(8100, 1);
    expect({ deleted, emptied, after: [...table.values()] }).toEqual({ deleted: [true, false, false], emptied: { size: 0, values: [], has: false }, after: [1] });
  });

  test("an emptied chunk taken again for other ids holds none of its old values", () => {
    const table = new IdTable<number>();
    for (let id = 0; id < 4096; id++) table.set(id, id); // one whole chunk
    for (let id = 0; id < 4096; id++) table.delete(id);
    table.set(3 * 4096 + 7, 1); // another chunk, maybe the emptied one's slots
    table.set(9, 2); // the first chunk's ids again
    expect({ size: table.size, entries: [...table.entries()], old: table.get(8), sameSlot: table.get(3 * 4096 + 9) }).toEqual({ size: 2, entries: [[9, 2], [3 * 4096 + 7, 1]], old: undefined, sameSlot: undefined });
  });
});
