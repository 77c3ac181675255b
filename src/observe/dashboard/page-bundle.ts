/**
 * A Bun macro (imported `with { type: "macro" }` by server.ts): at bundle time
 * (`bun run build`, so the compiled binary carries the page) or when the
 * server is first loaded from source, it bundles the page with Bun.build and
 * inlines the result as one HTML string. Bun.build cannot run inside a macro
 * (the bundler waits for the macro), so it runs in a child bun.
 */
export function dashboardPage(): string {
  const build = Bun.spawnSync([process.execPath, `${import.meta.dir}/build-page.ts`], { stdout: "pipe", stderr: "pipe" });
  if (!build.success) throw new Error(`the dashboard page did not build:\n${build.stderr.toString()}`);
  return build.stdout.toString();
}
