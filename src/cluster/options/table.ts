/**
 * Every runtime option, described once. Validation and defaults
 * (resolve.ts), the flags carried to child runtimes (argv.ts), the flags of
 * `mosaic run` and `mosaic --role` (cli/_flags.ts) and the `MOSAIC_*`
 * environment variables all derive from this table. A new option is one line
 * in `InitOptions` (its type and documentation, as users see it) and one entry
 * in `OPTIONS`; the compiler refuses the one without the other.
 */
import { availableParallelism } from "node:os";
import { upperSnakeCase } from "../../_util/parse.ts";
import { LOG_LEVELS, type LogLevel } from "../../logging/levels.ts";
import { detectScheduler } from "../../launch/allocation.ts";
import { COMPRESSION_KINDS, type CompressionKind, LZ4_REFUSAL } from "../../comms/compression.ts";
import { fraction, host, hostList, integer, type Kind, oneOf, path, switchOrPort, text, toggle } from "./kinds.ts";

/**
 * Options of `init()`, `interactive()` and `run()` (camelCase versions of the
 * original's). Each may also come from the environment variable named
 * `MOSAIC_` + its name in UPPER_SNAKE_CASE (`MOSAIC_NUM_WORKERS=4`); an option
 * given in code wins over the environment.
 *
 * @example
 * await mosaic.init({ numWorkers: 4, logLevel: "debug" });
 */
export interface InitOptions {
  /**
   * Nodes to start (local mode: processes on this machine). Default 1; in
   * cluster mode one per host that gets a node; in dynamic mode 0 (nodes join).
   */
  numNodes?: number;
  /** Workers per node. Default: the number of cores, at least 1. */
  numWorkers?: number;
  /** Threads a worker may use for tesserae. Default 2. */
  numThreads?: number;
  /**
   * Hosts to start nodes on (cluster mode), one node per host. Default: the
   * hosts of the SLURM, PBS or SGE job this runs in (none outside a job).
   * The head's own host gets no node unless `reuseHead`.
   */
  hosts?: string[];
  /** A file naming the hosts, one per line (duplicate lines, one per slot, are one host), instead of `hosts`. */
  hostfile?: string;
  /**
   * How nodes start on their hosts: "local" (this machine only), "ssh",
   * "slurm" (an srun step per host), "pbs" or "sge" (their node files; started
   * over ssh). Default: the scheduler of the job this runs in, else "ssh"
   * when hosts are given, else "local".
   */
  launcher?: LauncherKind;
  /** The ssh client and its options, e.g. "ssh -F my_config". Default "ssh". */
  sshCommand?: string;
  /** How to start this program on the other hosts, when not at the same path there (e.g. "/opt/bin/mosaic"). Default: the same command. */
  remoteCommand?: string;
  /** Give the head's own host a node too (by default it runs the head and the monitor only). Default false. */
  reuseHead?: boolean;
  /**
   * Address runtimes listen on. Default 127.0.0.1 locally; in cluster mode
   * the address of the interface that reaches the other hosts (each runtime
   * its own host's). "0.0.0.0" listens everywhere (and is never advertised).
   */
  address?: string;
  /** Port for the head (0: any free port). Children always take any free port. */
  port?: number;
  /** error, warning, info, perf or debug. Default info. */
  logLevel?: LogLevel;
  /** Milliseconds between heartbeats on an idle connection. Default 2000. */
  heartbeatInterval?: number;
  /** Milliseconds of silence after which a peer is declared dead. Default 6000 (at least 3 heartbeat intervals). */
  heartbeatTimeout?: number;
  /** Milliseconds allowed for the whole runtime to come up. Default 30000. */
  startTimeout?: number;
  /** Fraction of the machine's memory that the runtime may use (workers of a node share it). Default 0.9. */
  memoryFraction?: number;
  /** Bytes each runtime process may use, instead of memoryFraction. 0: use memoryFraction. */
  memoryLimit?: number;
  /**
   * Milliseconds a free shared-memory segment is kept for the next large
   * transfer before its memory goes back to the system. Default 30000: long
   * enough for an iterative program's next round to find its memory there.
   */
  segmentIdleTime?: number;
  /**
   * Whether a node starts a new worker in place of one that died (a new uid:
   * `worker:i:j` with the next free j), after a back-off of 250 ms doubling
   * up to 5 s; the head places new tesserae on it once it has joined.
   * Default false.
   */
  respawn?: boolean;
  /** Times a worker's place on a node is filled again, when `respawn` is on. Default 3. */
  respawnAttempts?: number;
  /**
   * Milliseconds between the resource samples every node and worker sends the
   * head (CPU, memory, shared memory, tasks queued and running: the `resources`
   * event, `runtime.status()`). 0: none. Default 1000.
   */
  monitorInterval?: number;
  /**
   * A file to write a timeline of the run to when it stops, as Chrome Trace
   * Event JSON (open it in https://ui.perfetto.dev or chrome://tracing;
   * summarise it with `mosaic profile FILE`). Default "": no profile.
   */
  profile?: string;
  /**
   * Folder of the per-run log folders: each run writes `<workspace>/<run id>/`
   * with one log file per runtime and the head's combined log. "": no log
   * files. Default "mosaic-workspace" (in the current directory).
   */
  workspace?: string;
  /**
   * Serve a live dashboard of the run (runtimes with CPU and memory charts,
   * tesserae, task counts, recent errors, log lines) on 127.0.0.1: `true`
   * takes port 8265, or any free port when that one is taken; a number is the
   * port (0: any free one). Its address, with the token that guards it, is
   * printed once in the head's log and is `runtime.dashboardUrl`. Default false.
   */
  dashboard?: boolean | number;
  /**
   * Bytes of shared memory the head prepares in idle time after start, so
   * that its first large argument or put of up to about this size finds the
   * memory already there (the first use of fresh /dev/shm pages runs at ~1
   * GB/s here, ~6x slower than warm). At most half its memory budget; kept
   * like any free segment (segmentIdleTime). Default 0: none.
   */
  warmPool?: number;
  /**
   * Nodes join the running head by themselves (`mosaic --role node --join
   * HOST:PORT` started anywhere: Kubernetes, cloud machines, by hand) instead
   * of being started by it; wait for them with `runtime.waitForWorkers(n)`.
   * The head listens on `address`:`port`, which nodes dial. Default false.
   */
  dynamic?: boolean;
  /**
   * A file holding the cluster secret, readable only by its owner (mode 600).
   * Dynamic mode reads the secret from `MOSAIC_SECRET` or this file; a head
   * given neither makes one and writes it to such a file in its run's
   * workspace folder, which its log names. Default "".
   */
  secretFile?: string;
  /**
   * Compression of large binary payloads (64 KiB or more) between runtimes
   * of different machines: "zstd" sends a payload compressed when that saved
   * at least 10% (sampled first, so incompressible data costs little), "none"
   * never. Runtimes of one machine share memory and never compress. "lz4" is
   * refused: Bun has no lz4 codec. Default "none": at link speeds of 1 GB/s
   * or more, zstd costs more time than it saves (see the README's benchmarks).
   */
  compression?: CompressionKind;
}

export type ResolvedOptions = Required<InitOptions>;

export const LAUNCHER_KINDS = ["local", "ssh", "slurm", "pbs", "sge"] as const;
export type LauncherKind = (typeof LAUNCHER_KINDS)[number];

/**
 * The value when neither code nor the environment gives one. A function sees
 * the options before it in the table, and needs words for `--help`.
 */
type DefaultOf<T> =
  | { default: T; defaultHelp?: undefined }
  | { default: (before: Partial<ResolvedOptions>, env: Record<string, string | undefined>) => T; defaultHelp: string };

export type OptionSpec<T> = DefaultOf<T> & {
  kind: Kind<T>;
  /** One line for `--help` and the README. */
  help: string;
  /** A rule tying this option to others: the message refusing the combination, or undefined. */
  relation?: (value: T, options: ResolvedOptions) => string | undefined;
  /** The option's `mosaic run` flag (default: its name in kebab-case) and alias; absent: not settable there. */
  run?: { flag?: string; alias?: string };
  /** Passed to every child runtime as `--<kebab-name>` (so all runtimes of a tree agree on it). */
  carried: boolean;
};

/** Timers of 2^31 ms or more fire at once in Bun (and would then re-arm every millisecond). */
const A_DAY = 86_400_000;

/** Table order matters where a default or a relation reads an option before it. */
export const OPTIONS: { [K in keyof InitOptions]-?: OptionSpec<ResolvedOptions[K]> } = {
  numNodes: {
    kind: integer({ min: 0 }),
    default: 1,
    help: "Number of nodes (cluster mode: one per host)",
    relation: (numNodes, { dynamic }) => (numNodes === 0 && !dynamic ? "option numNodes must be at least 1 (0 only in dynamic mode, where nodes join)" : undefined),
    run: { flag: "nnodes", alias: "n" },
    carried: true,
  },
  numWorkers: {
    kind: integer({ min: 1 }),
    default: () => Math.max(1, availableParallelism()),
    defaultHelp: "number of cores",
    help: "Workers per node",
    run: { flag: "nworkers", alias: "w" },
    carried: true,
  },
  numThreads: { kind: integer({ min: 1 }), default: 2, help: "Threads per worker", run: { flag: "nthreads" }, carried: true },
  hosts: { kind: hostList(), default: [], help: "Hosts to start nodes on (default: the job's allocation)", run: {}, carried: false },
  hostfile: { kind: text({ allowEmpty: true }), default: "", help: "File of hosts, one per line", run: {}, carried: false },
  // Carried: the monitor starts the nodes.
  launcher: {
    kind: oneOf(LAUNCHER_KINDS, "launcher"),
    default: (before, env) => detectScheduler(env) ?? (before.hosts!.length > 0 || before.hostfile ? "ssh" : "local"),
    defaultHelp: "the job's scheduler, else ssh with hosts, else local",
    help: "How nodes start on their hosts",
    run: {},
    carried: true,
  },
  sshCommand: { kind: text({ allowEmpty: false }), default: "ssh", help: "The ssh client and its options", run: {}, carried: true },
  remoteCommand: { kind: text({ allowEmpty: true }), default: "", help: "How to start this program on other hosts (default: the same command)", run: {}, carried: true },
  reuseHead: { kind: toggle(), default: false, help: "Give the head's host a node too", run: {}, carried: false },
  address: { kind: host(), default: "127.0.0.1", help: "Address to listen on", run: {}, carried: true },
  // Children always listen on any free port: only the head's is chosen.
  port: { kind: integer({ min: 0, max: 65535 }), default: 0, help: "Port of the head (0: any)", run: {}, carried: false },
  logLevel: { kind: oneOf(LOG_LEVELS, "log level"), default: "info", help: "Log level", run: {}, carried: true },
  heartbeatInterval: { kind: integer({ min: 1 }), default: 2000, help: "Milliseconds between heartbeats on an idle connection", run: {}, carried: true },
  heartbeatTimeout: {
    kind: integer({ min: 1 }),
    default: (before) => Math.max(6000, 3 * before.heartbeatInterval!),
    defaultHelp: "6000, at least 3 heartbeat intervals",
    help: "Milliseconds of silence after which a peer is declared dead",
    // A parent ends a child silent for heartbeatTimeout: leave room for a late beat or two.
    relation: (timeout, { heartbeatInterval }) =>
      timeout < 2 * heartbeatInterval
        ? `option heartbeatTimeout (${timeout} ms) must be at least twice heartbeatInterval (${heartbeatInterval} ms)`
        : undefined,
    run: {},
    carried: true,
  },
  startTimeout: { kind: integer({ min: 1 }), default: 30000, help: "Milliseconds allowed for the whole runtime to come up", run: {}, carried: true },
  memoryFraction: { kind: fraction(), default: 0.9, help: "Fraction of the machine's memory the runtime may use", run: {}, carried: true },
  memoryLimit: { kind: integer({ min: 0 }), default: 0, help: "Bytes each runtime process may use (0: use the memory fraction)", run: {}, carried: true },
  segmentIdleTime: {
    kind: integer({ min: 0, max: A_DAY, maxNote: "ms (a day)" }),
    default: 30000,
    help: "Milliseconds a free shared-memory segment is kept for reuse",
    run: {},
    carried: true,
  },
  respawn: { kind: toggle(), default: false, help: "Nodes start a new worker in place of one that died", run: {}, carried: true },
  respawnAttempts: { kind: integer({ min: 0 }), default: 3, help: "Times a worker's place is filled again (with respawn)", run: {}, carried: true },
  monitorInterval: {
    kind: integer({ min: 0, max: A_DAY, maxNote: "ms (a day)" }),
    default: 1000,
    help: "Milliseconds between resource samples of nodes and workers (0: none)",
    run: {},
    carried: true,
  },
  // Only the head records and writes files: children need neither.
  profile: { kind: path(), default: "", help: "Write a Chrome Trace Event timeline of the run to this file", run: {}, carried: false },
  workspace: { kind: path(), default: "mosaic-workspace", help: "Folder of per-run log folders (\"\": no log files)", run: {}, carried: false },
  dashboard: { kind: switchOrPort(), default: false, help: "Serve a live dashboard on 127.0.0.1 (--dashboard[=PORT]; 0: any free port)", run: {}, carried: false },
  // Carried: each tessera thread prepares its own for its first large result.
  warmPool: {
    kind: integer({ min: 0 }),
    default: 0,
    help: "Bytes of shared memory the head, and each tessera thread once started, prepare in idle time for their first large transfer",
    run: {},
    carried: true,
  },
  dynamic: { kind: toggle(), default: false, help: "Nodes join the head (mosaic --role node --join HOST:PORT) instead of being started by it", run: {}, carried: true },
  secretFile: { kind: path(), default: "", help: "File with the cluster secret, mode 600 (dynamic mode; else MOSAIC_SECRET)", run: {}, carried: false },
  // Carried: every runtime sends payloads to other hosts (workers to workers, the head to workers).
  compression: {
    kind: oneOf(COMPRESSION_KINDS, "compression"),
    default: "none",
    help: "Compress payloads of 64 KiB or more between hosts when it pays: zstd or none (lz4 is not supported)",
    relation: (value) => (value === "lz4" ? LZ4_REFUSAL : undefined),
    run: {},
    carried: true,
  },
};

export type OptionName = keyof InitOptions;

export const OPTION_NAMES = Object.keys(OPTIONS) as OptionName[];

/** The environment variable of an option: `numWorkers` → `MOSAIC_NUM_WORKERS`. */
export function envName(name: OptionName): string {
  return `MOSAIC_${upperSnakeCase(name)}`;
}

/** The spec of `name`, typed loosely for code that walks the whole table. */
export function specOf(name: OptionName): OptionSpec<unknown> {
  return OPTIONS[name] as OptionSpec<unknown>;
}
