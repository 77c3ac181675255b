/**
 * A plain SVG chart of transfer rates against size, drawn from the
 * benchmarks' own JSON lines (those with `plot_series`, `size_bytes` and a
 * GB/s value): one line per series, log scales on both axes, so that the
 * cold, README-usage and steady figures sit beside the memcpy ceilings and
 * piscina. No dependency: a reader opens bench/out/transfers.svg in a browser.
 */

interface Point {
  size: number;
  value: number;
}

const WIDTH = 900;
const HEIGHT = 520;
const MARGIN = { left: 70, right: 330, top: 40, bottom: 50 };
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"];

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The series to draw, by name, from measurements; undefined when none has a plot series. */
export function plotSeries(measurements: readonly Record<string, unknown>[]): Map<string, Point[]> | undefined {
  const series = new Map<string, Point[]>();
  for (const m of measurements) {
    const name = m.plot_series;
    const size = m.size_bytes;
    const value = m.value;
    if (typeof name !== "string" || typeof size !== "number" || typeof value !== "number" || m.unit !== "GB/s" || !(value > 0)) continue;
    let points = series.get(name);
    if (!points) series.set(name, (points = []));
    // The data benchmark emits each figure twice (against TCP and memcpy): one point per size.
    if (!points.some((point) => point.size === size)) points.push({ size, value });
  }
  for (const points of series.values()) points.sort((a, b) => a.size - b.size);
  return series.size > 0 ? series : undefined;
}

/** The chart as SVG text. */
export function transferSvg(series: Map<string, Point[]>, title: string): string {
  const all = [...series.values()].flat();
  const log = Math.log10;
  const xMin = log(Math.min(...all.map((p) => p.size)) / 1.5);
  const xMax = log(Math.max(...all.map((p) => p.size)) * 1.5);
  const yMin = Math.floor(log(Math.min(...all.map((p) => p.value))));
  const yMax = Math.ceil(log(Math.max(...all.map((p) => p.value))));
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (size: number) => MARGIN.left + ((log(size) - xMin) / (xMax - xMin || 1)) * plotW;
  const y = (value: number) => MARGIN.top + plotH - ((log(value) - yMin) / (yMax - yMin || 1)) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="14" font-weight="bold">${escape(title)}</text>`,
  ];
  for (let decade = yMin; decade <= yMax; decade++) {
    const value = 10 ** decade;
    parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotW}" y1="${y(value)}" y2="${y(value)}" stroke="#ddd"/>`);
    parts.push(`<text x="${MARGIN.left - 8}" y="${y(value) + 4}" text-anchor="end">${value >= 1 ? value : value.toPrecision(1)}</text>`);
  }
  const sizes = [...new Set(all.map((p) => p.size))].sort((a, b) => a - b);
  for (const size of sizes) {
    parts.push(`<line x1="${x(size)}" x2="${x(size)}" y1="${MARGIN.top}" y2="${MARGIN.top + plotH}" stroke="#eee"/>`);
    parts.push(`<text x="${x(size)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${size / 2 ** 20} MiB</text>`);
  }
  parts.push(`<text x="${MARGIN.left + plotW / 2}" y="${HEIGHT - 10}" text-anchor="middle">payload size</text>`);
  parts.push(`<text transform="translate(18 ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">GB/s (log scale)</text>`);
  parts.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  let index = 0;
  for (const [name, points] of series) {
    const color = COLORS[index % COLORS.length];
    const dash = name.includes("cold") ? ` stroke-dasharray="6 4"` : name.startsWith("memcpy") ? ` stroke-dasharray="2 3"` : "";
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${points.map((p) => `${x(p.size)},${y(p.value)}`).join(" ")}"/>`);
    for (const p of points) parts.push(`<circle cx="${x(p.size)}" cy="${y(p.value)}" r="3.5" fill="${color}"><title>${escape(name)}: ${p.value} GB/s at ${p.size / 2 ** 20} MiB</title></circle>`);
    const ly = MARGIN.top + 10 + index * 18;
    parts.push(`<line x1="${WIDTH - MARGIN.right + 20}" x2="${WIDTH - MARGIN.right + 50}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`);
    parts.push(`<text x="${WIDTH - MARGIN.right + 56}" y="${ly + 4}">${escape(name)}</text>`);
    index++;
  }
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}
