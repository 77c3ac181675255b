/**
 * The dashboard page: keeps what the server sent (a snapshot, then a delta a
 * second) and redraws from it. The token comes from the page's own address,
 * which the head printed.
 */
import "uplot/dist/uPlot.min.css";
import "./style.css";
import type { BoardMessage, ErrorRow, LogRow, RuntimeRow, SamplePoint, TaskPoint, TaskTotals, TesseraRow } from "../protocol.ts";
import { Charts } from "./charts.ts";
import { duration } from "./format.ts";
import { renderErrors, renderLogs, renderRuntimes, renderTesserae } from "./panels.ts";

const HISTORY = 600;

const state = {
  head: "head",
  started: Date.now(),
  monitorInterval: 0,
  runtimes: new Map<string, RuntimeRow>(),
  samples: new Map<string, SamplePoint[]>(),
  tasks: [] as TaskPoint[],
  totals: { submitted: 0, done: 0, failed: 0 } as TaskTotals,
  tesserae: new Map<string, TesseraRow>(),
  errors: [] as ErrorRow[],
  logs: [] as LogRow[],
};

function keep<T>(list: T[], limit: number): T[] {
  return list.length > limit ? list.slice(-limit) : list;
}

function apply(message: BoardMessage): void {
  if (message.type === "snapshot") {
    Object.assign(state, { head: message.head, started: message.started, monitorInterval: message.monitorInterval });
    state.runtimes.clear();
    state.samples.clear();
    state.tesserae.clear();
    state.tasks = [];
    state.errors = [];
    state.logs = [];
  }
  for (const row of message.runtimes) state.runtimes.set(row.uid, row);
  for (const [uid, points] of Object.entries(message.samples)) state.samples.set(uid, keep([...(state.samples.get(uid) ?? []), ...points], HISTORY));
  for (const row of message.tesserae) {
    if (row.state === "live") state.tesserae.set(row.uid, row);
    else state.tesserae.delete(row.uid);
  }
  state.tasks = keep([...state.tasks, ...message.tasks], HISTORY);
  state.errors = keep([...state.errors, ...message.errors], 50);
  state.logs = keep([...state.logs, ...message.logs], 2000);
  state.totals = message.totals;
}

const charts = new Charts();

function render(): void {
  const last = state.tasks.at(-1);
  const set = (id: string, value: number) => (document.getElementById(id)!.textContent = String(value));
  set("now-pending", last?.pending ?? 0);
  set("now-running", last?.running ?? 0);
  set("total-done", state.totals.done);
  set("total-failed", state.totals.failed);
  set("total-submitted", state.totals.submitted);
  document.getElementById("run")!.textContent =
    `up ${duration(Date.now() - state.started)}` + (state.monitorInterval ? "" : " · resource samples off (monitorInterval 0)");
  const tesserae = [...state.tesserae.values()];
  renderRuntimes([...state.runtimes.values()], state.samples, tesserae);
  renderTesserae(tesserae);
  renderErrors(state.errors);
  renderLogs(state.logs);
  charts.update(state.samples, state.tasks);
}

function setConnection(text: string, kind: "live" | "down" | ""): void {
  const badge = document.getElementById("connection")!;
  badge.textContent = text;
  badge.className = `badge ${kind}`;
}

let retries = 0;

function connect(): void {
  const token = new URLSearchParams(location.search).get("token") ?? "";
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws?token=${encodeURIComponent(token)}`);
  socket.onopen = () => {
    retries = 0;
    setConnection("live", "live");
  };
  socket.onmessage = (message) => {
    apply(JSON.parse(message.data as string) as BoardMessage);
    render();
  };
  socket.onclose = () => {
    // The run ended (or the head is busy starting again): try a few times, then say so.
    if (retries++ < 5) {
      setConnection("reconnecting…", "down");
      setTimeout(connect, 1000 * retries);
    } else setConnection("the run has ended", "down");
  };
}

for (const id of ["log-runtime", "log-filter"]) document.getElementById(id)!.addEventListener("input", () => renderLogs(state.logs));
connect();
