/**
 * A real Grid Engine (Debian's SGE 8.1.9) over the test hosts
 * (../../../shared/CLUSTER-NOTES.md): a cell of this run's own (SGE_ROOT under
 * the run's directory, classic spooling, no admin user), sge_qmaster on h0 and
 * an sge_execd per host, each in the foreground (SGE_ND) under `unshare --uts`
 * so that it sees its own host name. One queue over every host, one slot
 * each, h0 first (seq_no with queue_sort_method seqno puts a job's master task
 * there), and a parallel environment `mpi` ($round_robin, control_slaves so
 * `qrsh -inherit` works). Client commands need `env` and must run inside a
 * host's namespace.
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Daemon } from "./daemon.ts";
import { runCommand } from "./netns.ts";

export const SGE_BINARIES = ["/usr/lib/gridengine/sge_qmaster", "/usr/lib/gridengine/sge_execd", "/usr/lib/gridengine/spoolinit", "/usr/bin/qsub", "/usr/bin/qrsh"];

export interface Sge {
  /** SGE_ROOT, SGE_CELL and the ports, for client commands (qsub, qstat, qrsh). */
  readonly env: Record<string, string>;
  /** The parallel environment over every host. */
  readonly pe: string;
  stop(): Promise<void>;
}

const BIN = "/usr/lib/gridengine";

function bootstrap(root: string): string {
  return [
    "admin_user none",
    "default_domain none",
    "ignore_fqdn true",
    "spooling_method classic",
    "spooling_lib libspoolc",
    `spooling_params ${root}/default/common;${root}/default/spool/qmaster`,
    `binary_path ${BIN}`,
    `qmaster_spool_dir ${root}/default/spool/qmaster`,
    "security_mode none",
    "listener_threads 2",
    "worker_threads 2",
    "scheduler_threads 1",
    "jvm_threads 0",
    "",
  ].join("\n");
}

async function globalConfiguration(root: string): Promise<string> {
  const defaults = await Bun.file("/usr/share/gridengine/default-configuration").text();
  const changes: Record<string, string> = {
    execd_spool_dir: `${root}/default/spool/execd`,
    mailer: "/bin/true",
    min_uid: "0",
    min_gid: "0",
    load_report_time: "00:00:05",
    max_unheard: "00:00:30",
  };
  return defaults
    .split("\n")
    .map((line) => {
      const key = line.split(/\s+/)[0]!;
      return key in changes ? `${key} ${changes[key]}` : line;
    })
    .join("\n");
}

function queue(names: string[], tmp: string): string {
  const limits = ["s_rt", "h_rt", "s_cpu", "h_cpu", "s_fsize", "h_fsize", "s_data", "h_data", "s_stack", "h_stack", "s_core", "h_core", "s_rss", "h_rss", "s_vmem", "h_vmem"];
  return [
    "qname all.q",
    `hostlist ${names.join(" ")}`,
    `seq_no 0,${names.map((name, i) => `[${name}=${i}]`).join(",")}`,
    "load_thresholds NONE", "suspend_thresholds NONE", "nsuspend 1", "suspend_interval 00:05:00", "priority 0",
    "min_cpu_interval 00:05:00", "processors UNDEFINED", "qtype BATCH INTERACTIVE", "ckpt_list NONE", "pe_list mpi",
    "rerun FALSE", "slots 1",
    // Every host shares /tmp: jobs' temporary directories would collide.
    `tmpdir ${tmp},${names.map((name) => `[${name}=${tmp}/${name}]`).join(",")}`,
    "shell /bin/sh", "prolog NONE", "epilog NONE", "shell_start_mode posix_compliant", "starter_method NONE",
    "suspend_method NONE", "resume_method NONE", "terminate_method NONE", "notify 00:00:60", "owner_list NONE",
    "user_lists NONE", "xuser_lists NONE", "subordinate_list NONE", "complex_values NONE", "projects NONE",
    "xprojects NONE", "calendar NONE", "initial_state default",
    ...limits.map((limit) => `${limit} INFINITY`),
    "",
  ].join("\n");
}

const PARALLEL_ENVIRONMENT = [
  "pe_name mpi", "slots 999", "user_lists NONE", "xuser_lists NONE", "start_proc_args /bin/true", "stop_proc_args /bin/true",
  "allocation_rule $round_robin", "control_slaves TRUE", "job_is_first_task FALSE", "urgency_slots min", "accounting_summary FALSE",
  "qsort_args NONE", "",
].join("\n");

export async function startSge(dir: string, names: string[], on: (host: number, command: string[]) => string[]): Promise<Sge> {
  const root = join(dir, "sge");
  const common = join(root, "default", "common");
  const tmp = join(root, "tmp");
  for (const sub of [common, join(root, "default", "spool", "qmaster"), join(root, "default", "spool", "execd"), ...names.map((name) => join(tmp, name))]) {
    mkdirSync(sub, { recursive: true });
  }
  for (const link of ["bin", "lib", "utilbin", "util"]) symlinkSync(`/var/lib/gridengine/${link}`, join(root, link));
  writeFileSync(join(common, "bootstrap"), bootstrap(root));
  writeFileSync(join(common, "act_qmaster"), `${names[0]}\n`);
  const env = { SGE_ROOT: root, SGE_CELL: "default", SGE_QMASTER_PORT: "6444", SGE_EXECD_PORT: "6445" };
  const daemons: Daemon[] = [];
  const stop = async () => {
    await Promise.all(daemons.slice(1).map((daemon) => daemon.stop()));
    await daemons[0]?.stop();
  };
  // SGE's tools resolve their own host name: each runs as host `host` names it.
  const as = (host: number, command: string[]) => on(host, ["unshare", "--uts", "sh", "-c", `hostname ${names[host]}; exec "$@"`, "sh", ...command]);
  const must = async (host: number, command: string[], stdin?: string) => {
    const result = await runCommand(as(host, command), { env, timeout: 20_000, stdin });
    if (result.code !== 0) throw new Error(`$ ${command.join(" ")} failed (${result.code}):\n${result.stderr}${result.stdout}`);
    return result.stdout;
  };
  try {
    await must(0, [`${BIN}/spoolinit`, "classic", "libspoolc", `${common};${join(root, "default", "spool", "qmaster")}`, "init"]);
    const configuration = join(dir, "sge-configuration");
    writeFileSync(configuration, await globalConfiguration(root));
    await must(0, [`${BIN}/spooldefaults`, "configuration", configuration]);
    await must(0, [`${BIN}/spooldefaults`, "complexes", "/usr/share/gridengine/util/resources/centry"]);
    await must(0, [`${BIN}/spooldefaults`, "usersets", "/usr/share/gridengine/util/resources/usersets"]);
    await must(0, [`${BIN}/spooldefaults`, "managers", "root"]);
    await must(0, [`${BIN}/spooldefaults`, "operators", "root"]);
    const asHost = (i: number, daemon: string) => on(i, ["unshare", "--uts", "sh", "-c", `hostname ${names[i]}; exec ${daemon}`]);
    const master = new Daemon("sge_qmaster", asHost(0, `${BIN}/sge_qmaster`), { ...env, SGE_ND: "1" });
    daemons.push(master);
    await waitFor(() => runCommand(as(0, ["qconf", "-sh"]), { env, timeout: 10_000 }).then((r) => r.code === 0), "sge_qmaster answering", daemons);
    await must(0, ["qconf", "-ah", names.join(",")]);
    await must(0, ["qconf", "-as", names.join(",")]);
    const file = (name: string, text: string) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
    await must(0, ["qconf", "-Ap", file("sge-pe", PARALLEL_ENVIRONMENT)]);
    await must(0, ["qconf", "-Aq", file("sge-queue", queue(names, tmp))]);
    const scheduler = (await must(0, ["qconf", "-ssconf"]))
      .replace(/^schedule_interval .*$/m, "schedule_interval 0:0:1")
      .replace(/^flush_submit_sec .*$/m, "flush_submit_sec 1")
      .replace(/^flush_finish_sec .*$/m, "flush_finish_sec 1")
      .replace(/^queue_sort_method .*$/m, "queue_sort_method seqno");
    await must(0, ["qconf", "-Msconf", file("sge-scheduler", scheduler)]);
    names.forEach((name, i) => daemons.push(new Daemon(`sge_execd on ${name}`, asHost(i, `${BIN}/sge_execd`), { ...env, SGE_ND: "1" })));
    // Every host's queue instance reporting a load (state not "u"nknown) is when jobs can run there.
    await waitFor(async () => {
      const out = await runCommand(as(0, ["qstat", "-f", "-q", "all.q"]), { env, timeout: 10_000 });
      const instances = out.stdout.split("\n").filter((line) => line.startsWith("all.q@"));
      return instances.length === names.length && instances.every((line) => !/\s[a-zA-Z]*u[a-zA-Z]*\s*$/.test(line));
    }, "every execd reporting", daemons);
    return { env, pe: "mpi", stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Polls `ready` (SGE prints no readiness line) for up to 30 s, failing early if a daemon exits. */
async function waitFor(ready: () => Promise<boolean>, what: string, daemons: Daemon[]): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (performance.now() < deadline) {
    if (await ready()) return;
    const dead = daemons.find((daemon) => daemon.process.exitCode !== null);
    if (dead) throw new Error(`${dead.name} exited:\n${dead.output.join("\n")}`);
    await Bun.sleep(200);
  }
  throw new Error(`Grid Engine: no ${what} within 30 s:\n${daemons.map((d) => `${d.name}: ${d.output.slice(-5).join("\n")}`).join("\n")}`);
}
