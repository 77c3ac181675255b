/**
 * The layer rule of src/ (ARCHITECTURE.md): each part may import only the
 * parts listed for it. An import that runs up a layer (comms importing the
 * actor model, the actor model importing the processes) is a violation.
 */
import { readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";

/** A part of src/: a top-level folder, a sub-folder of actors/, or a top-level file. */
export function partOf(path: string): string {
  const parts = path.split("/");
  if (parts[0] === "actors" && parts.length > 2) return `actors/${parts[1]}`;
  return parts.length === 1 ? parts[0]!.replace(/\.ts$/, "") : parts[0]!;
}

const BASE = ["_util", "errors", "types"];
const LOW = [...BASE, "logging", "comms"];
const ACTORS = ["actors", "actors/wire", "observe", "warehouse", ...LOW];

/** What each part may import besides itself. */
export const ALLOWED: Record<string, string[]> = {
  _util: [],
  types: [],
  errors: ["_util"],
  logging: BASE,
  comms: [...BASE, "logging"],
  observe: LOW,
  warehouse: LOW,
  "actors/wire": LOW,
  actors: ["actors/wire", "observe", "warehouse", ...LOW],
  "actors/head": ACTORS,
  "actors/thread": ACTORS,
  // A worker starts its tessera threads: it speaks their protocol.
  "actors/worker": [...ACTORS, "actors/thread"],
  launch: LOW,
  cluster: ["actors/head", "actors/worker", "actors/thread", "launch", ...ACTORS],
  api: ["cluster", "actors/head", "actors/thread", "launch", ...ACTORS],
  // The compiled binary serves the public surface to programs as `mosaic-bun`.
  cli: ["index", "api", "cluster", "actors/thread", "launch", ...ACTORS],
  index: ["api", "cluster", "actors/head", "launch", ...ACTORS],
};

export interface Violation {
  file: string;
  imports: string;
  rule: string;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^"';]*?from\s*["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)|(?:^|\n)\s*import\s*["'](\.[^"']+)["']/g;

/** Violations of ALLOWED among `files` (paths relative to `srcDir`). */
export function layerViolations(srcDir: string, files: string[]): Violation[] {
  const violations: Violation[] = [];
  for (const file of files) {
    const from = partOf(file);
    const allowed = ALLOWED[from];
    const text = readFileSync(resolve(srcDir, file), "utf8");
    for (const match of text.matchAll(IMPORT)) {
      const specifier = match[1] ?? match[2] ?? match[3]!;
      const target = relative(srcDir, resolve(srcDir, dirname(file), specifier));
      if (target.startsWith("..")) continue; // package.json and the like
      const to = partOf(target);
      if (to === from) continue;
      if (!allowed) violations.push({ file, imports: target, rule: `${from} is not a known part of src/ (add it to ALLOWED)` });
      else if (!allowed.includes(to)) violations.push({ file, imports: target, rule: `${from} may import ${allowed.join(", ") || "nothing else"}` });
    }
  }
  return violations;
}
