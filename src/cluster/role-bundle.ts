/**
 * What monitors and nodes run from a source checkout: role-main.ts, or the
 * same code bundled with Bun's bytecode, built on first use into a cache.
 * From source, Bun parses and transpiles each of role-main's ~90 modules at
 * every start; the bundle's bytecode halves each of these processes' CPU to
 * ready (measured: ~45 → ~21 ms for the monitor, ~47 → ~24 ms for the node).
 *
 * A bundle is run only while it is fresh: its manifest lists every file that
 * went into it (Bun's metafile) with its size, mtime and ctime, and the Bun
 * build that compiled the bytecode; a file changed since (any write changes
 * its ctime) or another Bun means source is run, and the bundle is built
 * again once the head is ready (in this process: Bun.build runs off the main
 * thread; no process is started). A file changed while it was built makes
 * that build unused. The cache is `.cache/role-bundle/` in the package
 * (gitignored); MOSAIC_ROLE_BUNDLE names another folder, or is "0" to always
 * run source. Inside the compiled binary none of this applies: it has one
 * entry for all roles.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

/** The role entry from source. */
export const ROLE_MAIN = resolve(import.meta.dir, "role-main.ts");
const PACKAGE = resolve(import.meta.dir, "../..");
/** "0": monitors and nodes run source; a path: the cache's folder. */
export const ROLE_BUNDLE_ENV = "MOSAIC_ROLE_BUNDLE";

/** One file that went into the bundle, as it was when the bundle was built. */
type Input = [path: string, size: number, mtimeMs: number, ctimeMs: number];

interface Manifest {
  /** Bun.revision: bytecode is only valid for the Bun that made it. */
  bun: string;
  /** The build's folder, in the cache. */
  build: string;
  inputs: Input[];
}

/** Files changed this close before a build began may have been read half-way through an edit (their times are coarse). */
const EDIT_MARGIN_MS = 50;
/** A replaced build, or what a build that died left, is removed once this old (a build under way is younger). */
const KEEP_REPLACED_MS = 60_000;

let stale = false;
let building: Promise<void> | undefined;

function cacheFolder(): string | undefined {
  const given = process.env[ROLE_BUNDLE_ENV];
  if (given === "0") return undefined;
  return given ? resolve(given) : join(PACKAGE, ".cache", "role-bundle");
}

/**
 * The file a monitor or node is started with (after `bun`). A process running
 * a role entry (a monitor) starts its nodes with the same one, while it
 * exists; a head takes the bundle if it is fresh.
 */
export function roleEntry(): string {
  const cache = cacheFolder();
  if (!cache || Bun.main === ROLE_MAIN) return ROLE_MAIN;
  if (Bun.main.startsWith(`${cache}/`)) return existsSync(Bun.main) ? Bun.main : ROLE_MAIN;
  const entry = freshBundle(cache);
  if (!entry) stale = true;
  return entry ?? ROLE_MAIN;
}

/** Called when a head is ready: builds the bundle if roleEntry() found none fresh. Resolves when done (never rejects). */
export function refreshRoleBundle(): Promise<void> {
  const cache = cacheFolder();
  if (!stale || !cache) return building ?? Promise.resolve();
  stale = false;
  return (building ??= buildBundle(cache).finally(() => (building = undefined)));
}

function freshBundle(cache: string): string | undefined {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(cache, "manifest.json"), "utf8")) as Manifest;
  } catch {
    return undefined;
  }
  if (manifest.bun !== Bun.revision) return undefined;
  for (const [path, size, mtimeMs, ctimeMs] of manifest.inputs) {
    const now = statSync(path, { throwIfNoEntry: false });
    if (!now || now.size !== size || now.mtimeMs !== mtimeMs || now.ctimeMs !== ctimeMs) return undefined;
  }
  const entry = join(cache, manifest.build, "role-main.js");
  return existsSync(entry) ? entry : undefined;
}

async function buildBundle(cache: string): Promise<void> {
  const id = `${Date.now().toString(36)}-${process.pid}`;
  const folder = join(cache, `${id}.tmp`);
  try {
    const began = Date.now();
    mkdirSync(cache, { recursive: true });
    const result = await Bun.build({
      entrypoints: [ROLE_MAIN],
      target: "bun",
      // Bytecode for a bundle needs CommonJS (so role-main.ts has no top-level await).
      format: "cjs",
      bytecode: true,
      // Stack traces name the source files; the map is read only when one is made.
      sourcemap: "external",
      outdir: folder,
      metafile: true,
      throw: false,
    });
    if (!result.success || !result.metafile) return;
    // The metafile's paths are relative to the working directory; the package's settings shape the build too.
    const paths = [...Object.keys(result.metafile.inputs).map((input) => resolve(input)), join(PACKAGE, "package.json"), join(PACKAGE, "tsconfig.json")];
    const inputs: Input[] = paths.flatMap((path) => {
      const now = statSync(path, { throwIfNoEntry: false });
      return now ? [[path, now.size, now.mtimeMs, now.ctimeMs] as Input] : [];
    });
    if (inputs.some(([, , mtimeMs, ctimeMs]) => Math.max(mtimeMs, ctimeMs) >= began - EDIT_MARGIN_MS)) return;
    renameSync(folder, join(cache, id));
    const manifest: Manifest = { bun: Bun.revision, build: id, inputs };
    writeFileSync(join(cache, `manifest.${id}.tmp`), JSON.stringify(manifest));
    renameSync(join(cache, `manifest.${id}.tmp`), join(cache, "manifest.json"));
    prune(cache, id);
  } catch {
    // A cache that cannot be written (a read-only install) leaves monitors and nodes on source.
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/**
 * Removes replaced builds and what builds that died left. A monitor running a
 * removed build starts its nodes from source (roleEntry).
 */
function prune(cache: string, current: string): void {
  const before = Date.now() - KEEP_REPLACED_MS;
  for (const name of readdirSync(cache)) {
    if (name === current || name === "manifest.json") continue;
    const path = join(cache, name);
    if ((statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Infinity) < before) rmSync(path, { recursive: true, force: true });
  }
}
