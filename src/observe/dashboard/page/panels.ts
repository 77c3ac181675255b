/** The page's tables and lists, redrawn from the page's state after each message. */
import type { ErrorRow, LogRow, RuntimeRow, SamplePoint, TesseraRow } from "../protocol.ts";
import { bytes, clock, colourOf, el, percent } from "./format.ts";

const byUid = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });

/** Runtimes grouped by host, each with its latest sample and its tesserae. */
export function renderRuntimes(runtimes: RuntimeRow[], samples: Map<string, SamplePoint[]>, tesserae: TesseraRow[]): void {
  const table = document.getElementById("runtimes")!;
  const perWorker = new Map<string, number>();
  for (const row of tesserae) if (row.worker) perWorker.set(row.worker, (perWorker.get(row.worker) ?? 0) + 1);
  const head = el("tr");
  for (const [name, numeric] of [["runtime", false], ["pid", true], ["CPU", true], ["memory", true], ["budget", true], ["shm", true], ["queued", true], ["running", true], ["tesserae", true]] as const) {
    head.append(el("th", name, numeric ? "num" : undefined));
  }
  const rows: HTMLElement[] = [head];
  const hosts = new Map<string, RuntimeRow[]>();
  for (const row of runtimes) {
    const host = row.host ?? "this machine";
    if (!hosts.has(host)) hosts.set(host, []);
    hosts.get(host)!.push(row);
  }
  for (const [host, rowsOfHost] of [...hosts].sort(([a], [b]) => byUid(a, b))) {
    const hostRow = el("tr", undefined, "host");
    const cell = el("td", `host ${host}`);
    cell.colSpan = 9;
    hostRow.append(cell);
    rows.push(hostRow);
    for (const row of rowsOfHost.sort((a, b) => byUid(a.uid, b.uid))) {
      const last = samples.get(row.uid)?.at(-1);
      const tr = el("tr", undefined, row.state === "lost" ? "lost" : undefined);
      tr.dataset.uid = row.uid;
      if (row.reason) tr.title = row.reason;
      const name = el("td");
      const swatch = el("span", undefined, "swatch");
      swatch.style.background = colourOf(row.uid);
      name.append(swatch, row.role === "worker" ? `  ${row.uid}` : row.uid);
      tr.append(
        name,
        el("td", String(row.pid ?? "–"), "num"),
        el("td", percent(last?.cpu), "num"),
        el("td", bytes(last?.rss), "num"),
        el("td", bytes(last?.memoryLimit), "num"),
        el("td", bytes(last?.sharedMemory), "num"),
        el("td", last ? String(last.tasksQueued) : "–", "num"),
        el("td", last ? String(last.tasksRunning) : "–", "num"),
        el("td", row.role === "worker" ? String(perWorker.get(row.uid) ?? 0) : "", "num"),
      );
      rows.push(tr);
    }
  }
  table.replaceChildren(...rows);
  const workers = runtimes.filter((row) => row.role === "worker");
  document.getElementById("runtimes-summary")!.textContent =
    `${hosts.size} host${hosts.size === 1 ? "" : "s"}, ${runtimes.filter((row) => row.role === "node").length} nodes, ${workers.filter((row) => row.state === "up").length} workers up` +
    (workers.some((row) => row.state === "lost") ? `, ${workers.filter((row) => row.state === "lost").length} lost` : "");
}

/** Live tesserae per worker, grouped by class. */
export function renderTesserae(tesserae: TesseraRow[]): void {
  const box = document.getElementById("tesserae")!;
  const workers = new Map<string, Map<string, TesseraRow[]>>();
  for (const row of tesserae) {
    const worker = row.worker ?? "not placed yet";
    if (!workers.has(worker)) workers.set(worker, new Map());
    const classes = workers.get(worker)!;
    if (!classes.has(row.className)) classes.set(row.className, []);
    classes.get(row.className)!.push(row);
  }
  const blocks = [...workers].sort(([a], [b]) => byUid(a, b)).map(([worker, classes]) => {
    const block = el("div", undefined, "worker-tesserae");
    block.dataset.worker = worker;
    block.append(el("b", worker), " ");
    const parts = [...classes].map(([className, rows]) => {
      const restarts = rows.reduce((sum, row) => sum + row.restarts, 0);
      return `${className} ×${rows.length}${restarts ? ` (${restarts} restarts)` : ""}`;
    });
    block.append(parts.join(", "));
    block.title = [...classes.values()].flat().map((row) => `${row.uid} (thread ${row.thread ?? "?"})`).slice(0, 50).join("\n");
    return block;
  });
  box.replaceChildren(...(blocks.length ? blocks : [el("p", "no tessera lives now", "muted")]));
  document.getElementById("tesserae-summary")!.textContent = `${tesserae.length} live`;
}

/** The most recent errors first, each with its stack (a remote error's holds the worker's). */
export function renderErrors(errors: ErrorRow[]): void {
  const box = document.getElementById("errors")!;
  const items = errors
    .slice()
    .reverse()
    .map((row) => {
      const item = el("div", undefined, "error");
      // A remote error's message already starts with its class's name.
      item.append(el("div", row.message.startsWith(`${row.name}:`) ? row.message : `${row.name}: ${row.message}`));
      const where = row.kind === "task" ? `${row.tessera}.${row.method}() · ${row.task}` : `tessera ${row.tessera}`;
      item.append(el("div", `${clock(row.time)} · ${where}${row.worker ? ` · on ${row.worker}` : ""}`, "where"));
      const details = el("details");
      details.append(el("summary", "stack"), el("pre", row.stack));
      item.append(details);
      return item;
    });
  box.replaceChildren(...(items.length ? items : [el("p", "none", "muted")]));
  document.getElementById("errors-summary")!.textContent = errors.length ? `${errors.length} shown` : "";
}

/** Log lines of the chosen runtime matching the filter, the newest at the bottom. */
export function renderLogs(logs: LogRow[]): void {
  const box = document.getElementById("logs")!;
  const select = document.getElementById("log-runtime") as HTMLSelectElement;
  const known = new Set([...select.options].map((option) => option.value));
  for (const runtime of [...new Set(logs.map((row) => row.runtime))].sort(byUid)) {
    if (!known.has(runtime)) select.append(new Option(runtime, runtime));
  }
  const runtime = select.value;
  const filter = (document.getElementById("log-filter") as HTMLInputElement).value.toLowerCase();
  const shown = logs.filter((row) => (!runtime || row.runtime === runtime) && (!filter || row.text.toLowerCase().includes(filter))).slice(-500);
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
  box.replaceChildren(
    ...shown.map((row) => {
      const line = el("div", undefined, `log-${row.stream}`);
      line.append(el("span", `${clock(row.time)} `, "muted"), el("span", row.runtime.toUpperCase().padEnd(12), "log-runtime"), ` ${row.text}`);
      return line;
    }),
  );
  if (atBottom) box.scrollTop = box.scrollHeight;
}
