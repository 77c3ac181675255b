/**
 * The live dashboard in a real browser: headless Chromium (Debian's
 * `chromium`, which .ci/run installs) driven by playwright-core, against a
 * head started with the dashboard on (test/fixtures/dashboard-fixture.ts).
 * The page is refused without its token, shows both workers, its task
 * counters move while the program runs calls, and a failed task's error
 * appears with the worker's stack. A screenshot is left in
 * test/.artifacts/dashboard.png (git-ignored).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import type { TreeInfo } from "../fixtures/_tree.ts";
import { expectPortsClosedSoon, expectTreeGone, readyTree, REPO_ROOT, type SpawnedProcess, spawnFixture } from "../_helpers/processes.ts";

setDefaultTimeout(60_000);

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(REPO_ROOT, "test/.artifacts");
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`dashboard tests skipped: no ${CHROMIUM} (apt-get install chromium; .ci/run installs it)`);

/** A number shown on the page. */
async function shown(page: Page, id: string): Promise<number> {
  return Number(await page.textContent(`#${id}`));
}

/** Waits until the number shown in `#id` holds `condition` (a JavaScript comparison such as "> 3"), as the page updates. */
async function untilShown(page: Page, id: string, condition: string): Promise<void> {
  await page.waitForFunction(`Number(document.getElementById(${JSON.stringify(id)}).textContent) ${condition}`);
}

describe.skipIf(!haveChromium)("the dashboard in a browser", () => {
  let head: SpawnedProcess;
  let tree: TreeInfo;
  let url: URL;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    head = spawnFixture("dashboard-fixture.ts", [], {
      env: { MOSAIC_NUM_NODES: "1", MOSAIC_NUM_WORKERS: "2", MOSAIC_DASHBOARD: "0", MOSAIC_MONITOR_INTERVAL: "200" },
    });
    tree = await readyTree(head);
    url = new URL((await head.waitForLine(/^dashboard-url /)).slice("dashboard-url ".length));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
    page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  });

  afterAll(async () => {
    await browser?.close();
    if (head && !head.exitStatus) head.send("stop");
    await head?.[Symbol.asyncDispose]();
  });

  test("the head prints the address once, on loopback, with a token", async () => {
    const printed = head.lines.stdout.filter((line) => line.includes("dashboard: http://"));
    expect({ printed: printed.length, host: url.hostname, token: /^[0-9a-f]{32}$/.test(url.searchParams.get("token") ?? "") }).toEqual({
      printed: 1,
      host: "127.0.0.1",
      token: true,
    });
    expect(printed[0]).toContain(url.href);
  });

  test("without the token the page and its socket are refused: 401 without one, 403 with a wrong one", async () => {
    const bare = `${url.origin}/`;
    const wrong = `${url.origin}/?token=${"0".repeat(32)}`;
    const statuses = [(await page.goto(bare))?.status(), (await page.goto(wrong))?.status(), (await fetch(`${url.origin}/ws`)).status, (await fetch(`${url.origin}/ws?token=x`)).status];
    const socketOpened = await new Promise<boolean>((resolve) => {
      const socket = new WebSocket(`ws://${url.host}/ws?token=${"0".repeat(32)}`);
      socket.onopen = () => {
        socket.close();
        resolve(true);
      };
      socket.onerror = () => resolve(false);
    });
    expect({ statuses, socketOpened }).toEqual({ statuses: [401, 403, 401, 403], socketOpened: false });
  });

  test("with the token the page loads, goes live and shows the node and both workers", async () => {
    const response = await page.goto(url.href);
    expect(response?.status()).toBe(200);
    await page.waitForSelector("#connection.live");
    const workers = tree.workers.map((worker) => worker.uid);
    await page.waitForFunction(`${JSON.stringify(workers)}.every((uid) => document.querySelector('#runtimes tr[data-uid="' + uid + '"]'))`);
    const rows = await page.$$eval("#runtimes tr[data-uid]", (trs) => trs.map((tr) => tr.getAttribute("data-uid")));
    expect(rows).toEqual(["monitor", "node:0", ...workers]);
    // One tessera on each worker (round-robin placement).
    const tesserae = await page.$$eval("#tesserae [data-worker]", (blocks) => blocks.map((block) => block.textContent));
    expect(tesserae).toEqual(workers.map((uid) => `${uid} Counter ×1`));
  });

  test("its task counters move while the program runs calls", async () => {
    expect(await shown(page, "total-done")).toBe(0);
    head.send("calls");
    await untilShown(page, "total-done", "> 0");
    const first = await shown(page, "total-done");
    // Still running: a later update shows more.
    await untilShown(page, "total-done", `> ${first}`);
    head.send("quiet");
    const calls = Number((await head.waitForLine(/^calls \d+$/)).slice("calls ".length));
    await untilShown(page, "total-done", `=== ${calls}`);
    expect({ submitted: await shown(page, "total-submitted"), done: await shown(page, "total-done"), failed: await shown(page, "total-failed") }).toEqual({
      submitted: calls,
      done: calls,
      failed: 0,
    });
  });

  test("a failed task's error appears with the worker's stack", async () => {
    head.send("fail");
    await head.waitForLine("failed RangeError: planned dashboard failure");
    await untilShown(page, "total-failed", "=== 1");
    const error = await page.$eval("#errors .error", (item) => ({
      title: item.firstElementChild!.textContent,
      stack: item.querySelector("pre")!.textContent,
      where: item.querySelector(".where")!.textContent,
    }));
    expect(error.title).toMatch(/^RangeError: planned dashboard failure \(on worker:0:[01]\)$/);
    expect(error.where).toContain(".explode()");
    expect(error.stack).toContain("--- remote stack (worker:0:");
    expect(error.stack).toContain("dashboard-fixture.ts");
  });

  test("log lines of every runtime reach the page, and the filter narrows them", async () => {
    await page.waitForSelector("#logs div");
    await page.fill("#log-filter", "dashboard: http");
    const lines = await page.$$eval("#logs div", (divs) => divs.map((div) => div.textContent ?? ""));
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain("HEAD");
    await page.fill("#log-filter", "");
  });

  test("a screenshot is taken (test/.artifacts/dashboard.png)", async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // The charts have a few points by now.
    await page.waitForSelector("#chart-cpu canvas");
    const path = join(ARTIFACTS, "dashboard.png");
    await page.screenshot({ path, fullPage: true });
    expect(existsSync(path)).toBe(true);
  });

  test("stopping the runtime closes the dashboard's port and leaves nothing behind", async () => {
    head.send("stop");
    await head.waitForLine("stopped");
    expect(await head.waitForExit()).toEqual({ code: 0, signal: null });
    await page.waitForSelector("#connection.down");
    await expectPortsClosedSoon([Number(url.port)]);
    await expectTreeGone(tree);
  });
});
