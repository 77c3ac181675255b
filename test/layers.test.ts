import { describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { layerViolations } from "./_helpers/layers.ts";

const SRC = resolve(import.meta.dir, "../src");

describe("layers", () => {
  test("no file in src/ imports a layer above its own (ARCHITECTURE.md's arrows hold)", () => {
    const files = [...new Bun.Glob("**/*.ts").scanSync({ cwd: SRC })];
    expect(files.length).toBeGreaterThan(40);
    expect(layerViolations(SRC, files)).toEqual([]);
  });

  test("an import that runs up a layer is reported with the rule it breaks", () => {
    const dir = mkdtempSync(join(tmpdir(), "mosaic-layers-"));
    try {
      mkdirSync(join(dir, "comms"));
      mkdirSync(join(dir, "actors/head"), { recursive: true });
      mkdirSync(join(dir, "cluster"));
      writeFileSync(join(dir, "comms/a.ts"), 'import { x } from "../actors/head/b.ts";\nimport "../errors.ts";\n');
      writeFileSync(join(dir, "actors/head/b.ts"), 'import type { Runtime } from "../../cluster/c.ts";\n');
      writeFileSync(join(dir, "cluster/c.ts"), 'export { x } from "../actors/head/b.ts";\n');
      const found = layerViolations(dir, ["comms/a.ts", "actors/head/b.ts", "cluster/c.ts"]).map(({ file, imports }) => [file, imports]);
      expect(found).toEqual([
        ["comms/a.ts", "actors/head/b.ts"],
        ["actors/head/b.ts", "cluster/c.ts"],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
