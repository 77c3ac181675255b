/**
 * Two libc calls through bun:ffi that make segment memory cheaper:
 * `fallocate` gives a tmpfs file its pages in one call (instead of writing
 * zeros through it), and `madvise(MADV_POPULATE_WRITE / _READ)` maps a whole
 * mapping in one call (instead of one page fault per 4 KiB page, or per 16
 * when reading, as it is first used). Loaded on first use; where bun:ffi or libc is
 * missing (or `MOSAIC_NATIVE_MEMORY=0`), every function says it did nothing
 * and its caller takes the portable path.
 */
import { closeSync, openSync, readSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Libc, libc } from "../../_util/libc.ts";
import { clusterId, SHM_DIRECTORY } from "./files.ts";

const ENOSPC = 28;
const MADV_DONTNEED = 4;
const MADV_POPULATE_READ = 22;
const MADV_POPULATE_WRITE = 23;

/** libc, unless `MOSAIC_NATIVE_MEMORY=0` turns the native memory calls off. */
let memoryLibc: Libc | null | undefined;

function native(): Libc | null {
  return memoryLibc === undefined ? (memoryLibc = process.env.MOSAIC_NATIVE_MEMORY === "0" ? null : libc()) : memoryLibc;
}

/** Whether the native calls are in use in this process (tests and benchmarks say which path they measured). */
export function nativeMemoryAvailable(): boolean {
  return native() !== null;
}

/**
 * Gives the file `fd` its pages for [offset, offset + length). False when
 * that could not be done natively (the caller writes zeros instead); a full
 * file system throws ENOSPC, as writing would, so the caller falls back to
 * the socket.
 */
export function allocateFileRange(fd: number, offset: number, length: number): boolean {
  const lib = native();
  if (!lib || length <= 0) return length <= 0;
  if (lib.fallocate(fd, 0, offset, length) === 0) return true;
  // The file system may not support it (EOPNOTSUPP): writing zeros says for itself whether there is room.
  if (lib.errno() !== ENOSPC) return false;
  throw Object.assign(new Error(`ENOSPC: no space left on device, fallocate of ${length} bytes`), { code: "ENOSPC", errno: -ENOSPC, syscall: "fallocate" });
}

/**
 * Maps [offset, offset + length) of `mapping` (a shared mapping of a file
 * whose pages exist) writable in one call; false if that could not be done
 * (old kernel, no ffi): its pages are then faulted in as they are written.
 * `offset` must be a multiple of the page size.
 */
export function populateMapping(mapping: Uint8Array, offset = 0, length = mapping.byteLength - offset): boolean {
  const lib = native();
  if (!lib || length <= 0) return false;
  const ffi = require("bun:ffi") as typeof import("bun:ffi");
  return lib.madvise(ffi.ptr(mapping, offset), length, MADV_POPULATE_WRITE) === 0;
}

/**
 * Maps the pages of `mapping` (a mapping of a file whose pages exist), or
 * of `length` bytes of it from `offset` (whole pages), readable in one call, so that reading it later faults nothing; false if
 * that could not be done (old kernel, no ffi).
 */
export function populateReadable(mapping: Uint8Array, offset = 0, length = mapping.byteLength - offset): boolean {
  const lib = native();
  if (!lib || length <= 0) return false;
  const ffi = require("bun:ffi") as typeof import("bun:ffi");
  return lib.madvise(ffi.ptr(mapping, offset), length, MADV_POPULATE_READ) === 0;
}

const PAGE = 4096;
/** /proc/self/pagemap's flags, in the upper half of each page's 64-bit entry: present, swapped, file-backed or shared. */
const PRESENT_OR_SWAPPED = 0xc0000000;
const FILE_OR_SHARED = 0x20000000;
/** Past this many runs of copied pages, one madvise covers them all. */
const MAX_RUNS = 256;

/**
 * In `mapping` (a private mapping of a file), drops the pages that writes
 * copied (/proc/self/pagemap: present or swapped, not the file's), so that
 * each shows the file's page again; the pages never written keep their page
 * table entries. False if that could not be done (no ffi, no pagemap): the
 * mapping must not be used again then.
 */
export function discardCopiedPages(mapping: Uint8Array): boolean {
  const lib = native();
  if (!lib || mapping.byteLength === 0) return false;
  const ffi = require("bun:ffi") as typeof import("bun:ffi");
  const address = ffi.ptr(mapping);
  const pages = Math.ceil(mapping.byteLength / PAGE);
  const entries = new Uint32Array(pages * 2);
  const bytes = new Uint8Array(entries.buffer);
  let fd: number | undefined;
  try {
    fd = openSync("/proc/self/pagemap", "r");
    const position = (address / PAGE) * 8;
    for (let at = 0; at < bytes.byteLength; ) {
      const read = readSync(fd, bytes, at, bytes.byteLength - at, position + at);
      if (read <= 0) return false;
      at += read;
    }
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const runs: number[] = [];
  let run = -1;
  for (let page = 0; page <= pages; page++) {
    const flags = page < pages ? entries[2 * page + 1]! : 0;
    if ((flags & PRESENT_OR_SWAPPED) !== 0 && (flags & FILE_OR_SHARED) === 0) {
      if (run < 0) run = page;
    } else if (run >= 0) {
      runs.push(run, page);
      run = -1;
    }
  }
  if (runs.length === 0) return true;
  // Writes scattered over many runs: one call from the first to the last (a call per run costs ~7 us; 32,768 runs, 220 ms).
  if (runs.length > 2 * MAX_RUNS) return lib.madvise(address + runs[0]! * PAGE, (runs[runs.length - 1]! - runs[0]!) * PAGE, MADV_DONTNEED) === 0;
  for (let i = 0; i < runs.length; i += 2) if (lib.madvise(address + runs[i]! * PAGE, (runs[i + 1]! - runs[i]!) * PAGE, MADV_DONTNEED) !== 0) return false;
  return true;
}

/**
 * Buffers over memory this thread keeps mapped (mappings.ts's kept
 * mappings), each told apart when its contents are freed: an ArrayBuffer made
 * by bun:ffi's toArrayBuffer with a deallocator takes that function with it
 * wherever its contents go (a transfer list, `ArrayBuffer.prototype.transfer`,
 * another thread), and JSC calls it when they are freed, on whatever thread.
 * The deallocator is a line of C compiled by Bun's TinyCC (bun:ffi's cc): it
 * sets the buffer's flag, a slot of a SharedArrayBuffer this thread polls. A
 * FinalizationRegistry alone would say when the ArrayBuffer object was
 * collected, which a transfer makes early while its contents live on.
 */
export interface ContentsWatch {
  /** A buffer of `length` bytes at `address` whose freeing sets flag `slot`, or undefined when every slot is taken. */
  buffer(address: number, length: number): { buffer: ArrayBuffer; slot: number } | undefined;
  /** Whether the contents of the buffer of `slot` were freed; once they were, the slot is free again. */
  freed(slot: number): boolean;
}

const WATCH_SLOTS = 64;
/**
 * The deallocator and its flags, static in the compiled code (never freed:
 * Bun's cc code lives until closed, and nothing closes it), so that a buffer
 * freed late (moved to another thread, or at a thread's teardown) writes into
 * memory that is still there.
 */
const WATCH_SOURCE = `static volatile int flags[${WATCH_SLOTS}];
void contents_freed(void *bytes, void *flag) { *(volatile int *)flag = 1; }
void *watch_flags(void) { return (void *)flags; }
`;
let watch: ContentsWatch | null | undefined;
/** The compiled code's library object (never closed). */
let compiled: unknown;

/** A file of our own in /dev/shm, where segments live (made, used and removed by `use`). */
function withScratchFile<T>(suffix: string, content: string | Uint8Array, use: (path: string) => T): T {
  // Named as this process's segments are, so that its node removes it should the process die meanwhile.
  const path = join(SHM_DIRECTORY, `mosaic-${clusterId()}-${process.pid}-scratch-${Math.random().toString(36).slice(2)}${suffix}`);
  try {
    writeFileSync(path, content, { mode: 0o600 });
    return use(path);
  } finally {
    try {
      unlinkSync(path);
    } catch {}
  }
}

function openWatch(): ContentsWatch | null {
  if (!native()) return null;
  const ffi = require("bun:ffi") as typeof import("bun:ffi");
  let deallocator: number;
  let flagsAddress: number;
  try {
    const library = withScratchFile(".c", WATCH_SOURCE, (source) =>
      ffi.cc({ source, symbols: { contents_freed: { args: ["ptr", "ptr"], returns: "void" }, watch_flags: { args: [], returns: "ptr" } } }),
    );
    compiled = library;
    deallocator = (library.symbols.contents_freed as unknown as { ptr: number }).ptr;
    flagsAddress = library.symbols.watch_flags() as unknown as number;
  } catch {
    return null; // no TinyCC in this Bun, or no /dev/shm to write its source in
  }
  const flags = new Int32Array(ffi.toArrayBuffer(flagsAddress, 0, WATCH_SLOTS * 4));
  const taken = new Uint8Array(WATCH_SLOTS);
  // Its deallocator arguments are not in bun:ffi's types.
  const make = ffi.toArrayBuffer as unknown as (ptr: number, offset: number, length: number, context: number, deallocator: number) => ArrayBuffer;
  return {
    buffer(address, length) {
      const slot = taken.indexOf(0);
      if (slot < 0) return undefined;
      taken[slot] = 1;
      Atomics.store(flags, slot, 0);
      return { buffer: make(address, 0, length, flagsAddress + slot * 4, deallocator), slot };
    },
    freed(slot) {
      if (Atomics.load(flags, slot) === 0) return false;
      taken[slot] = 0;
      return true;
    },
  };
}

let keeping: boolean | undefined;

/**
 * Whether this thread may keep mappings of others' segments (mappings.ts):
 * native calls, 4 KiB pages (the pagemap reading assumes them), a contents
 * watch, and a pagemap that shows a written page of a private file mapping
 * as copied: checked once on a small file of its own, which must show the
 * file again after discardCopiedPages. `stopKeeping` turns it off for good
 * (a later pagemap failure).
 */
export function keepingMappingsUsable(): ContentsWatch | null {
  if (keeping === undefined) {
    const lib = native();
    keeping = lib !== null && lib.getpagesize() === PAGE && pagemapWorks() && (watch = openWatch()) !== null;
  }
  return keeping ? watch! : null;
}

/** The contents watch, if one was opened: buffers made with it are still told apart once keeping stopped. */
export function contentsWatch(): ContentsWatch | null {
  return watch ?? null;
}

export function stopKeeping(): void {
  keeping = false;
}

function pagemapWorks(): boolean {
  try {
    return withScratchFile("", new Uint8Array(2 * PAGE).fill(1), (path) => {
      const mapping = Bun.mmap(path, { shared: false });
      mapping[0] = 2;
      return discardCopiedPages(mapping) && mapping[0] === 1 && mapping[PAGE] === 1;
    });
  } catch {
    return false;
  }
}
