/**
 * The three uPlot charts: CPU and memory per runtime (one line each, from
 * their resource samples) and the head's tasks. Samples of different runtimes
 * come at different moments: they are aligned on whole seconds.
 */
import uPlot from "uplot";
import type { SamplePoint, TaskPoint } from "../protocol.ts";
import { bytes, colourOf } from "./format.ts";

const HEIGHT = 170;

function widthOf(container: HTMLElement): number {
  return Math.max(200, container.clientWidth);
}

class LineChart {
  #plot: uPlot | undefined;
  #key = "";
  readonly #container: HTMLElement;
  readonly #value: (v: number) => string;

  constructor(container: HTMLElement, value: (v: number) => string) {
    this.#container = container;
    this.#value = value;
    new ResizeObserver(() => this.#plot?.setSize({ width: widthOf(container), height: HEIGHT })).observe(container);
  }

  /** `series`: label and colour of each line; `data`: x (seconds) then one array per line. */
  set(series: { label: string; stroke: string; dash?: number[] }[], data: uPlot.AlignedData): void {
    const key = series.map((one) => one.label).join("\u0000");
    if (key !== this.#key || !this.#plot) {
      this.#plot?.destroy();
      this.#key = key;
      this.#container.textContent = "";
      const format = this.#value;
      this.#plot = new uPlot(
        {
          width: widthOf(this.#container),
          height: HEIGHT,
          legend: { live: false },
          cursor: { drag: { x: false, y: false } },
          scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
          axes: [{}, { size: 74, values: (_u, ticks) => ticks.map((tick) => format(tick)) }],
          series: [{}, ...series.map((one) => ({ ...one, width: 1.5, spanGaps: true, value: (_u: uPlot, v: number | null) => (v == null ? "–" : format(v)) }))],
        },
        data,
        this.#container,
      );
    } else this.#plot.setData(data);
  }
}

/** Aligns each runtime's samples on whole seconds: x, then one column per runtime (null where it has none). */
function align(samples: Map<string, SamplePoint[]>, uids: string[], pick: (point: SamplePoint) => number): uPlot.AlignedData {
  const seconds = new Set<number>();
  for (const uid of uids) for (const point of samples.get(uid) ?? []) seconds.add(Math.round(point.time / 1000));
  const x = [...seconds].sort((a, b) => a - b);
  const index = new Map(x.map((second, i) => [second, i]));
  const columns = uids.map((uid) => {
    const column: (number | null)[] = new Array(x.length).fill(null);
    for (const point of samples.get(uid) ?? []) column[index.get(Math.round(point.time / 1000))!] = pick(point);
    return column;
  });
  return [x, ...columns] as uPlot.AlignedData;
}

export class Charts {
  readonly #cpu: LineChart;
  readonly #memory: LineChart;
  readonly #tasks: LineChart;

  constructor() {
    this.#cpu = new LineChart(document.getElementById("chart-cpu")!, (v) => `${v.toFixed(v >= 10 ? 0 : 1)}%`);
    this.#memory = new LineChart(document.getElementById("chart-memory")!, bytes);
    this.#tasks = new LineChart(document.getElementById("chart-tasks")!, (v) => String(Math.round(v)));
  }

  update(samples: Map<string, SamplePoint[]>, tasks: TaskPoint[]): void {
    const uids = [...samples.keys()].sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
    const series = uids.map((uid) => ({ label: uid, stroke: colourOf(uid) }));
    this.#cpu.set(series, align(samples, uids, (point) => point.cpu));
    this.#memory.set(series, align(samples, uids, (point) => point.rss));
    const x = tasks.map((point) => Math.round(point.time / 1000));
    this.#tasks.set(
      [
        { label: "pending", stroke: "#8a94a6" },
        { label: "running", stroke: "#2f6fdf" },
        { label: "done/s", stroke: "#1b7f3b" },
        { label: "failed/s", stroke: "#c0392b", dash: [4, 3] },
      ],
      [x, tasks.map((p) => p.pending), tasks.map((p) => p.running), tasks.map((p) => p.done), tasks.map((p) => p.failed)],
    );
  }
}
