/**
 * A process's start-up leaves garbage and code that ran once (the imports'
 * top-level code, option parsing, spawning, handshakes): with Bun's collector
 * timer off (BUN_GC_TIMER_DISABLE, see children.ts) nothing collects it while
 * the process idles. One full collection, then JSC's shrink (it drops the
 * bytecode and JIT code of every function, rebuilt from the source when one
 * runs again, and returns freed pages), takes ~1 MiB off an idle worker for
 * ~5-10 ms of CPU, once.
 */
export function shrinkFootprint(): void {
  Bun.gc(true);
  // Deprecated in Bun's types, still there: skipped should it go.
  if (typeof Bun.shrink === "function") Bun.shrink();
}
