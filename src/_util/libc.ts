/**
 * The libc calls the runtime makes through bun:ffi, opened once per process
 * (and tessera thread) on first use: `fallocate` and `madvise` for segment
 * memory (comms/shared-memory/native.ts) and its page size, `prctl` for a child's parent-death
 * signal (launch/parent-watch.ts). Null where bun:ffi or libc is missing (not
 * Linux): callers then take their portable path.
 */
export interface Libc {
  fallocate(fd: number, mode: number, offset: number, length: number): number;
  madvise(address: number, length: number, advice: number): number;
  prctl(option: number, arg2: number): number;
  getpagesize(): number;
  errno(): number;
}

let opened: Libc | null | undefined;

export function libc(): Libc | null {
  return opened === undefined ? (opened = open()) : opened;
}

function open(): Libc | null {
  if (process.platform !== "linux") return null;
  try {
    const ffi = require("bun:ffi") as typeof import("bun:ffi");
    for (const name of ["libc.so.6", "libc.so"]) {
      try {
        const { symbols } = ffi.dlopen(name, {
          fallocate: { args: ["i32", "i32", "i64", "i64"], returns: "i32" },
          madvise: { args: ["ptr", "u64", "i32"], returns: "i32" },
          prctl: { args: ["i32", "u64", "u64", "u64", "u64"], returns: "i32" },
          getpagesize: { args: [], returns: "i32" },
          __errno_location: { args: [], returns: "ptr" },
        });
        return {
          fallocate: (fd, mode, offset, length) => symbols.fallocate(fd, mode, offset, length),
          madvise: (address, length, advice) => symbols.madvise(address as never, length, advice),
          prctl: (option, arg2) => symbols.prctl(option, arg2, 0, 0, 0),
          getpagesize: () => symbols.getpagesize(),
          errno: () => ffi.read.i32(symbols.__errno_location()!, 0),
        };
      } catch {}
    }
  } catch {}
  return null;
}
