/** How the page prints numbers and times. */

export function bytes(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 || value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function percent(value: number | undefined): string {
  return value === undefined ? "–" : `${value.toFixed(value >= 10 ? 0 : 1)}%`;
}

export function clock(time: number): string {
  return new Date(time).toLocaleTimeString([], { hour12: false });
}

export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** Tableau's ten categorical colours: neighbours stay apart. */
const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const colours = new Map<string, string>();

/** A colour per runtime, kept for the page's life: the next unused one of the palette, in order of first sight. */
export function colourOf(uid: string): string {
  let colour = colours.get(uid);
  if (!colour) colours.set(uid, (colour = PALETTE[colours.size % PALETTE.length]!));
  return colour;
}

/** An element with text (never HTML: names and messages come from the program). */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}
