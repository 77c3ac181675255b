/**
 * SLURM's hostlist syntax (`SLURM_JOB_NODELIST`, `scontrol show hostnames`):
 * `node[01-04,07],gpu3` is node01..node04, node07 and gpu3. A name may hold
 * several bracket groups (`rack[1-2]-n[01-02]`: every combination, the first
 * group varying slowest), and a range keeps the zero padding of its lower
 * bound. Parsing is strict: a scheduler's list we misread would start nodes
 * on the wrong machines, so bad input fails naming it.
 */
import { AllocationError } from "../errors.ts";

/** More names than any allocation holds: a typo like `n[1-99999999]` must not exhaust memory. */
const MAX_HOSTS = 100_000;

/** The host names a hostlist denotes, in order, duplicates kept (as `scontrol show hostnames`). */
export function expandHostlist(hostlist: string): string[] {
  const hosts: string[] = [];
  for (const item of splitTopLevel(hostlist)) {
    for (const host of expandItem(item, hostlist)) {
      hosts.push(host);
      if (hosts.length > MAX_HOSTS) fail(hostlist, `it names more than ${MAX_HOSTS} hosts`);
    }
  }
  return hosts;
}

function fail(hostlist: string, why: string): never {
  throw new AllocationError(`hostlist "${hostlist}" cannot be expanded: ${why}`);
}

/** Items separated by commas outside brackets. */
function splitTopLevel(hostlist: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < hostlist.length; i++) {
    const c = hostlist[i];
    if (c === "[") {
      if (depth > 0) fail(hostlist, `nested "[" at position ${i}`);
      depth = 1;
    } else if (c === "]") {
      if (depth === 0) fail(hostlist, `"]" without "[" at position ${i}`);
      depth = 0;
    } else if (c === "," && depth === 0) {
      items.push(hostlist.slice(start, i));
      start = i + 1;
    }
  }
  if (depth > 0) fail(hostlist, `"[" is never closed`);
  items.push(hostlist.slice(start));
  const trimmed = items.map((item) => item.trim());
  if (trimmed.length === 1 && trimmed[0] === "") fail(hostlist, "it is empty");
  if (trimmed.some((item) => item === "")) fail(hostlist, "it has an empty item (two commas, or one at an end)");
  return trimmed;
}

/** One item: literal text and bracket groups, every combination of the groups. */
function expandItem(item: string, hostlist: string): string[] {
  let names = [""];
  for (const part of item.split(/(\[[^\]]*\])/)) {
    if (part === "") continue;
    if (/\s/.test(part)) fail(hostlist, `"${item}" holds white space`);
    const choices = part.startsWith("[") ? expandGroup(part.slice(1, -1), hostlist) : [part];
    if (names.length * choices.length > MAX_HOSTS) fail(hostlist, `it names more than ${MAX_HOSTS} hosts`);
    names = names.flatMap((prefix) => choices.map((choice) => prefix + choice));
  }
  return names;
}

/** The inside of one bracket group: `01-04,07`. */
function expandGroup(group: string, hostlist: string): string[] {
  const values: string[] = [];
  for (const range of group.split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(range);
    if (!match) fail(hostlist, `"[${group}]" holds "${range}", not a number or a range of numbers`);
    const [, low, high = low] = match as unknown as [string, string, string | undefined];
    const from = Number(low);
    const to = Number(high);
    if (to < from) fail(hostlist, `the range "${range}" runs backwards`);
    if (to - from + values.length >= MAX_HOSTS) fail(hostlist, `it names more than ${MAX_HOSTS} hosts`);
    for (let n = from; n <= to; n++) values.push(String(n).padStart(low.length, "0"));
  }
  return values;
}
