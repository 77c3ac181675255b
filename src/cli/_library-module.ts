/**
 * In the compiled binary, programs import the library as `mosaic-bun`: a
 * compiled binary resolves no package from node_modules at run time, so the
 * binary serves its own copy of the library under that name (one copy: the
 * runtime that runs the program and the classes the program registers share
 * their state). Registered in every role, before the program is loaded.
 */
import * as library from "../index.ts";

export const LIBRARY_MODULE = "mosaic-bun";

export function provideLibraryModule(): void {
  Bun.plugin({
    name: LIBRARY_MODULE,
    setup(build) {
      build.module(LIBRARY_MODULE, () => ({ exports: { ...library }, loader: "object" }));
    },
  });
}
