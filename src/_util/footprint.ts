/**
 * A runtime's start leaves garbage and code that ran once (the imports'
 * top-level code, option parsing, handshakes), and with Bun's collector timer
 * off (BUN_GC_TIMER_DISABLE, see children.ts) nothing collects it while the
 * runtime idles. JSC's shrink, run when the current turn of the event loop
 * ends, drops the bytecode and JIT code of every function (rebuilt from the
 * source when one runs again), collects fully and returns the freed pages:
 * ~1.3 MiB of an idle worker process, ~1.5 MiB of a tessera thread, for
 * 3-7 ms of CPU, once.
 */
export function shrinkFootprint(): void {
  // Deprecated in Bun's types but there; a full collection alone (about half the gain) should it go.
  if (typeof Bun.shrink === "function") Bun.shrink();
  else Bun.gc(true);
}
