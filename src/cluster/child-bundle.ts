/**
 * What the child runtimes of a source checkout load the library from: its
 * sources, or the same modules bundled with Bun's bytecode, built on first
 * use into a cache. From source, Bun parses and transpiles every module at
 * each start and compiles each function when first called: most of what a
 * child spends before it is ready. From a build, a monitor or node spends
 * ~25 ms of CPU instead of ~50, a worker ~32 instead of ~60.
 *
 * A build holds three bundles. Monitors and nodes run `role-main.js`,
 * role-main.ts bundled. Workers run their program as before, with `--preload
 * program.js`: it registers a Bun plugin that serves each library module
 * (deep imports of a program included) from the bundle, one instance each, so
 * the program and the library see the same classes and state. The program's
 * own modules load from source. A worker's tessera threads preload
 * `thread.js` (Bun's plugins do not reach Worker threads: each registers its
 * own; `threadPreload`): a thread's start then takes ~30% less. Each holds
 * only what its process or thread imports (PRELOADS): a worker's ~106 of the
 * library's ~145 modules, a thread's ~79; any other loads from source through
 * the same plugin, importing the library's modules from the bundle (an idle
 * worker ~1.2 MiB smaller, each tessera thread ~1.9 MiB). A module served so is a
 * snapshot of its exports: a library module must not export a `let` that
 * changes to programs. Bun.build also writes in `process.env.NODE_ENV` as it
 * was at build time: no library module may branch on it at run time.
 *
 * A bundle is used only while it is fresh: its manifest lists every file that
 * went into it (Bun's metafile) with its size, mtime and ctime, and the Bun
 * build that compiled the bytecode; a file changed since (any write changes
 * its ctime) or another Bun means children run source, and the bundle is
 * built again once the head is ready (in this process: Bun.build runs off the
 * main thread; no process is started). A file changed while it was built
 * makes that build unused. The cache is `.cache/bundle/` in the package
 * (gitignored); MOSAIC_BUNDLE names another folder, or is "0" to always run
 * source. A compiled binary has all of this built in.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { BunPlugin } from "bun";

/** The role entry from source. */
export const ROLE_MAIN = resolve(import.meta.dir, "role-main.ts");
const SOURCES = resolve(import.meta.dir, "..");
const INDEX = join(SOURCES, "index.ts");
const PACKAGE = resolve(SOURCES, "..");
/** "0": children run source; a path: the cache's folder. */
export const BUNDLE_ENV = "MOSAIC_BUNDLE";

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
  const given = process.env[BUNDLE_ENV];
  if (given === "0") return undefined;
  return given ? resolve(given) : join(PACKAGE, ".cache", "bundle");
}

/** The files of a build: what monitors and nodes run, what workers preload, and what their tessera threads preload. */
const ROLE_BUNDLE = "role-main.js";
const PROGRAM_BUNDLE = "program.js";
const THREAD_BUNDLE = "thread.js";

/**
 * What each preloaded bundle holds: the library's modules that these import
 * statically, directly or not. Beside the public entry (all a program
 * imports), a worker's main thread runs its role (lifecycle.ts requires the
 * entrypoint and the options, the entrypoint imports worker.ts, which requires
 * the actor host with its first tessera), and a tessera thread thread.ts
 * (lifecycle.ts imports it there). A module neither bundle holds, should
 * either ask for it (the head's, a monitor's, a launcher, the dashboard),
 * loads from source through the same plugin.
 */
const PRELOADS: [file: string, entries: string[]][] = [
  [PROGRAM_BUNDLE, [INDEX, "cluster/entrypoint.ts", "cluster/options.ts", "cluster/worker.ts", "actors/worker/tessera-host.ts"]],
  [THREAD_BUNDLE, [INDEX, "actors/thread/thread.ts"]],
];

/**
 * How a child is started (`command`: `bun <entry> ...` from source) when there
 * is a fresh build: a monitor or node runs the build's bundle of role-main.ts
 * instead of role-main.ts; a worker runs its program with the build's preload.
 * A process started from a build starts its children from the same one, while
 * it exists; a head from the cache's build if it is fresh; a monitor or node
 * started from source, from source.
 */
export function withBundle(command: string[], kind: "role" | "program"): string[] {
  const build = childBuild();
  const bundle = build && join(build, kind === "role" ? ROLE_BUNDLE : PROGRAM_BUNDLE);
  if (!bundle) return command;
  if (!existsSync(bundle)) {
    // Its folder was removed (by hand, a tmp cleaner) while its manifest stayed: build again.
    if (!Bun.main.startsWith(`${cacheFolder()}/`)) stale = true;
    return command;
  }
  return kind === "role" ? [command[0]!, bundle, ...command.slice(2)] : [command[0]!, "--preload", bundle, ...command.slice(1)];
}

/**
 * What this process's tessera threads preload: the thread bundle of the build
 * this worker started from (its program bundle, from a build that has none);
 * undefined when it runs source, or when its build was removed since (a newer
 * one replaced it: threads then load source).
 */
export function threadPreload(): string[] | undefined {
  if (!(globalThis as Record<symbol, unknown>)[Symbol.for("mosaic.bundle")]) return undefined;
  const at = process.execArgv.indexOf("--preload");
  const bundle = at >= 0 ? process.execArgv[at + 1] : undefined;
  if (!bundle || basename(bundle) !== PROGRAM_BUNDLE) return undefined;
  const threads = join(dirname(bundle), THREAD_BUNDLE);
  if (existsSync(threads)) return [threads];
  return existsSync(bundle) ? [bundle] : undefined;
}

/** The folder of the build children start from. */
function childBuild(): string | undefined {
  const cache = cacheFolder();
  if (!cache) return undefined;
  if (Bun.main.startsWith(`${cache}/`)) return dirname(Bun.main);
  if (Bun.main === ROLE_MAIN) return undefined;
  const build = freshBuild(cache);
  if (!build) stale = true;
  return build;
}

/** Called when a head is ready: builds the bundle if its children found none fresh. Resolves when done (never rejects). */
export function refreshBundle(): Promise<void> {
  const cache = cacheFolder();
  if (!stale || !cache) return building ?? Promise.resolve();
  stale = false;
  return (building ??= buildBundle(cache).finally(() => (building = undefined)));
}

function freshBuild(cache: string): string | undefined {
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
  return join(cache, manifest.build);
}

async function buildBundle(cache: string): Promise<void> {
  const id = `${Date.now().toString(36)}-${process.pid}`;
  const folder = join(cache, `${id}.tmp`);
  // A program that exits (process.exit, a signal) while the build runs ends it there: its folder goes with it.
  const removeFolder = () => rmSync(folder, { recursive: true, force: true });
  process.once("exit", removeFolder);
  try {
    // What builds that died (SIGKILL) left goes before this one adds its own.
    if (existsSync(cache)) prune(cache, id, (name) => name.endsWith(".tmp"));
    const began = Date.now();
    // The metafiles' paths are relative to the working directory.
    const cwd = process.cwd();
    mkdirSync(folder, { recursive: true });
    const settings = {
      target: "bun",
      // Bytecode for a bundle needs CommonJS (so role-main.ts has no top-level await).
      format: "cjs",
      bytecode: true,
      // Stack traces name the sources (and registry.ts finds a tessera class's module by them).
      sourcemap: "external",
      outdir: folder,
      metafile: true,
      throw: false,
    } as const;
    const role = await Bun.build({ ...settings, entrypoints: [ROLE_MAIN] });
    // The library's modules (the public entry and all it imports, at once or where needed), which the
    // metafile of a first pass names; each preloaded bundle serves those it holds.
    const graph = await Bun.build({ entrypoints: [INDEX], target: "bun", metafile: true, throw: false });
    if (!role.success || !role.metafile || !graph.success || !graph.metafile) return;
    const sources = `${realpathSync(SOURCES)}/`;
    const library = Object.keys(graph.metafile.inputs).map((input) => realpathSync(resolve(cwd, input))).filter((path) => path.startsWith(sources));
    const built = new Set(Object.keys(role.metafile.inputs).map((input) => resolve(cwd, input)));
    const imports = staticImports(graph.metafile.inputs, cwd);
    for (const [file, entries] of PRELOADS) {
      const held = staticClosure(imports, entries.map((entry) => realpathSync(resolve(SOURCES, entry))));
      const entry = join(folder, file.replace(/\.js$/, ".ts"));
      writeFileSync(entry, preloadSource(library.filter((path) => held.has(path)), sources, id, file));
      // What the bundle does not hold stays out of it: a require() or import() of it stays, by path, for the plugin.
      const result = await Bun.build({ ...settings, entrypoints: [entry], plugins: [leaveOut(sources, held)] });
      rmSync(entry);
      if (!result.success || !result.metafile || process.cwd() !== cwd) return;
      for (const input of Object.keys(result.metafile.inputs)) built.add(resolve(cwd, input));
      built.delete(entry);
    }
    // Every file that went in must be found again (a manifest missing one could not see it change); the
    // package's settings shape the build too (an installed package may have no tsconfig.json).
    const inputs: Input[] = [];
    for (const path of [...built, join(PACKAGE, "package.json"), join(PACKAGE, "tsconfig.json")]) {
      const now = statSync(path, { throwIfNoEntry: false });
      if (now) inputs.push([path, now.size, now.mtimeMs, now.ctimeMs]);
      else if (built.has(path)) return;
    }
    if (inputs.some(([, , mtimeMs, ctimeMs]) => Math.max(mtimeMs, ctimeMs) >= began - EDIT_MARGIN_MS)) return;
    for (const bundle of [ROLE_BUNDLE, PROGRAM_BUNDLE, THREAD_BUNDLE]) withoutSources(join(folder, `${bundle}.map`));
    renameSync(folder, join(cache, id));
    const manifest: Manifest = { bun: Bun.revision, build: id, inputs };
    writeFileSync(join(cache, `manifest.${id}.tmp`), JSON.stringify(manifest));
    renameSync(join(cache, `manifest.${id}.tmp`), join(cache, "manifest.json"));
    prune(cache, id);
  } catch {
    // A cache that cannot be written (a read-only install) leaves children on source.
  } finally {
    process.removeListener("exit", removeFolder);
    removeFolder();
  }
}

/**
 * A bundle's entry: each library module it holds, loaded when first imported,
 * served to Bun's loader by a plugin. It names its build and its file on
 * globalThis (the paths of a bundle are its sources': Bun writes them in at
 * build time). The plugin's
 * filter is the sources' folder (`sources`, ending in "/"), not the list of
 * the library's files: Bun compiles a filter of ~145 alternatives at every
 * start of a process or thread that preloads the bundle (measured: ~900 more
 * page faults, ~3.6 MiB more memory and ~10 ms more CPU than the folder's).
 * A file of the folder that the bundle does not hold (this Bun's onLoad
 * cannot decline one) is served from its source, as Bun would load it.
 */
function preloadSource(library: string[], sources: string, id: string, file: string): string {
  const modules = library.map((path) => `  ${JSON.stringify(path)}: () => require(${JSON.stringify(path)}),`).join("\n");
  const filter = `^${sources.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}.*\\.ts$`;
  return [
    "// Made by src/cluster/child-bundle.ts: the library's modules, served from this bundle.",
    `const modules: Record<string, () => object> = {\n${modules}\n};`,
    `(globalThis as Record<symbol, unknown>)[Symbol.for("mosaic.bundle")] = ${JSON.stringify(id)};`,
    `(globalThis as Record<symbol, unknown>)[Symbol.for("mosaic.bundle.file")] = ${JSON.stringify(file)};`,
    "Bun.plugin({",
    '  name: "mosaic-bundle",',
    "  setup(build) {",
    `    build.onLoad({ filter: new RegExp(${JSON.stringify(filter)}) }, (args) => {`,
    "      const load = modules[args.path];",
    '      return load ? { exports: load(), loader: "object" } : { contents: require("node:fs").readFileSync(args.path, "utf8"), loader: "ts" };',
    "    });",
    "  },",
    "});",
    "",
  ].join("\n");
}

/**
 * What each file of a build imports statically (Bun's metafile: `import`
 * statements, not `require()` calls or `import()`, which a module makes where
 * it needs them), by real path.
 */
function staticImports(inputs: Record<string, { imports: { path: string; kind: string }[] }>, cwd: string): Map<string, string[]> {
  const imports = new Map<string, string[]>();
  for (const [input, { imports: list }] of Object.entries(inputs)) {
    // Only files of the build (node:fs and the like are listed too).
    const files = list.filter(({ path, kind }) => kind === "import-statement" && path in inputs);
    imports.set(realpathSync(resolve(cwd, input)), files.map(({ path }) => realpathSync(resolve(cwd, path))));
  }
  return imports;
}

/** The files that `entries` import statically, directly or not, themselves included. */
function staticClosure(imports: Map<string, string[]>, entries: string[]): Set<string> {
  const found = new Set<string>();
  const pending = [...entries];
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    if (found.has(path)) continue;
    found.add(path);
    pending.push(...(imports.get(path) ?? []));
  }
  return found;
}

/**
 * A build plugin that leaves every module of the sources' folder outside
 * `keep` out of the bundle: its `require()` or `import()` stays, by path, for
 * the preload's plugin to serve from source when it runs.
 */
function leaveOut(sources: string, keep: Set<string>): BunPlugin {
  return {
    name: "mosaic-leave-out",
    setup(build) {
      build.onResolve({ filter: /^\.\.?\// }, (args) => {
        const path = resolve(dirname(args.importer), args.path);
        return path.startsWith(sources) && !keep.has(path) && existsSync(path) ? { path, external: true } : undefined;
      });
    },
  };
}

/**
 * A source map without the sources' text (they are where it points): Bun reads
 * the map whole when it first makes a stack trace through the bundle, which
 * a worker does as soon as its program declares a tessera class (registry.ts
 * names its module from the stack): ~2.5 ms of CPU instead of ~13. Bun needs
 * the field: one null per source.
 */
function withoutSources(path: string): void {
  const map = JSON.parse(readFileSync(path, "utf8")) as { sources: string[]; sourcesContent?: (string | null)[] };
  map.sourcesContent = map.sources.map(() => null);
  writeFileSync(path, JSON.stringify(map));
}

/**
 * Removes replaced builds and what builds that died left. A process running a
 * removed build starts its children from source (childBundle).
 */
function prune(cache: string, current: string, only: (name: string) => boolean = () => true): void {
  const before = Date.now() - KEEP_REPLACED_MS;
  for (const name of readdirSync(cache)) {
    if (name === current || name === "manifest.json" || !only(name)) continue;
    const path = join(cache, name);
    if ((statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Infinity) < before) rmSync(path, { recursive: true, force: true });
  }
}
