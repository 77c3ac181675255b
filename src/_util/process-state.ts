/**
 * Whether a process has ended, as far as this machine can tell: no such
 * process, or one killed and not reaped yet (a zombie holds no memory, runs
 * no code and maps nothing).
 */
import { readFileSync } from "node:fs";

export function processGone(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true; // gone (or no /proc)
  }
}
