/**
 * The options table without starting a runtime: defaults, environment
 * variables, precedence, every refusal, the flags carried to children and the
 * flags of the CLI.
 */
import { describe, expect, test } from "bun:test";
import { availableParallelism } from "node:os";
import { parseInteger, parseNumber } from "../../src/_util/parse.ts";
import { parseArgs } from "citty";
import { rejectUnknownFlags, roleArgs, runOptionArgs, runOptionsFromArgs, splitAtScript } from "../../src/cli/_flags.ts";
import { readText, toggle } from "../../src/cluster/options/kinds.ts";
import {
  envName,
  type InitOptions,
  OPTION_NAMES,
  type ResolvedOptions,
  resolveOptions,
  type RoleConfig,
  roleConfigFromArgv,
  roleConfigFromFlags,
  roleConfigToArgv,
} from "../../src/cluster/options.ts";
import { InvalidArgumentError } from "../../src/errors.ts";

const DEFAULTS: ResolvedOptions = {
  numNodes: 1,
  numWorkers: Math.max(1, availableParallelism()),
  numThreads: 2,
  hosts: [],
  hostfile: "",
  launcher: "local",
  sshCommand: "ssh",
  remoteCommand: "",
  reuseHead: false,
  address: "127.0.0.1",
  port: 0,
  logLevel: "info",
  heartbeatInterval: 2000,
  heartbeatTimeout: 6000,
  startTimeout: 30000,
  memoryFraction: 0.9,
  memoryLimit: 0,
  segmentIdleTime: 30000,
  respawn: false,
  respawnAttempts: 3,
  monitorInterval: 1000,
  profile: "",
  workspace: "mosaic-workspace",
  dashboard: false,
  warmPool: 0,
  dynamic: false,
  secretFile: "",
  compression: "none",
};

/** The error `run` throws, which must be an InvalidArgumentError. */
function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as Error).message;
  }
  throw new Error("expected an InvalidArgumentError, nothing was thrown");
}

/** Sets environment variables for the length of `run`. */
function withEnv<T>(vars: Record<string, string>, run: () => T): T {
  const before = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  try {
    return run();
  } finally {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

describe("resolving options", () => {
  test("no options and no environment give the documented defaults", () => {
    expect(resolveOptions({}, {})).toEqual(DEFAULTS);
    expect(resolveOptions(null, {})).toEqual(DEFAULTS);
    expect(resolveOptions(undefined, {})).toEqual(DEFAULTS);
  });

  test("the heartbeat timeout defaults to at least three heartbeat intervals", () => {
    expect(resolveOptions({ heartbeatInterval: 3000 }, {})).toEqual({ ...DEFAULTS, heartbeatInterval: 3000, heartbeatTimeout: 9000 });
    expect(resolveOptions({ heartbeatInterval: 100 }, {})).toEqual({ ...DEFAULTS, heartbeatInterval: 100, heartbeatTimeout: 6000 });
  });

  test("each option is read from its MOSAIC_ environment variable when code leaves it unset", () => {
    const env = {
      MOSAIC_NUM_NODES: "2",
      MOSAIC_NUM_WORKERS: "3",
      MOSAIC_NUM_THREADS: "4",
      MOSAIC_ADDRESS: "0.0.0.0",
      MOSAIC_PORT: "5000",
      MOSAIC_LOG_LEVEL: "debug",
      MOSAIC_HEARTBEAT_INTERVAL: "500",
      MOSAIC_HEARTBEAT_TIMEOUT: "1000",
      MOSAIC_START_TIMEOUT: "9000",
      MOSAIC_MEMORY_FRACTION: "0.5",
      MOSAIC_MEMORY_LIMIT: "8e9",
      MOSAIC_SEGMENT_IDLE_TIME: "0",
      MOSAIC_RESPAWN: "yes",
      MOSAIC_RESPAWN_ATTEMPTS: "5",
      MOSAIC_HOSTS: "a, b,,c",
      MOSAIC_HOSTFILE: "/tmp/hosts",
      MOSAIC_LAUNCHER: "pbs",
      MOSAIC_SSH_COMMAND: "ssh -F cfg",
      MOSAIC_REMOTE_COMMAND: "/opt/mosaic",
      MOSAIC_REUSE_HEAD: "on",
      MOSAIC_MONITOR_INTERVAL: "250",
      MOSAIC_PROFILE: "out.json",
      MOSAIC_WORKSPACE: "/tmp/ws",
      MOSAIC_DASHBOARD: "8266",
      MOSAIC_WARM_POOL: "268435456",
      MOSAIC_DYNAMIC: "1",
      MOSAIC_SECRET_FILE: "/tmp/secret",
      MOSAIC_COMPRESSION: "zstd",
    };
    expect(OPTION_NAMES.map(envName).toSorted()).toEqual(Object.keys(env).toSorted());
    expect(resolveOptions({}, env)).toEqual({
      numNodes: 2,
      numWorkers: 3,
      numThreads: 4,
      address: "0.0.0.0",
      port: 5000,
      logLevel: "debug",
      heartbeatInterval: 500,
      heartbeatTimeout: 1000,
      startTimeout: 9000,
      memoryFraction: 0.5,
      memoryLimit: 8e9,
      segmentIdleTime: 0,
      respawn: true,
      respawnAttempts: 5,
      hosts: ["a", "b", "c"],
      hostfile: "/tmp/hosts",
      launcher: "pbs",
      sshCommand: "ssh -F cfg",
      remoteCommand: "/opt/mosaic",
      reuseHead: true,
      monitorInterval: 250,
      profile: "out.json",
      workspace: "/tmp/ws",
      dashboard: 8266,
      warmPool: 268435456,
      dynamic: true,
      secretFile: "/tmp/secret",
      compression: "zstd",
    });
  });

  test("the process environment is read by default", () => {
    expect(withEnv({ MOSAIC_NUM_THREADS: "7" }, () => resolveOptions({}).numThreads)).toBe(7);
  });

  test("code wins over the environment, the environment over defaults; an empty variable counts as unset", () => {
    const env = { MOSAIC_NUM_WORKERS: "3", MOSAIC_NUM_THREADS: "5", MOSAIC_LOG_LEVEL: "" };
    expect(resolveOptions({ numWorkers: 6 }, env)).toEqual({ ...DEFAULTS, numWorkers: 6, numThreads: 5 });
  });

  test("a default computed from another option sees that option's environment variable", () => {
    expect(resolveOptions({}, { MOSAIC_HEARTBEAT_INTERVAL: "4000" })).toEqual({ ...DEFAULTS, heartbeatInterval: 4000, heartbeatTimeout: 12000 });
  });

  test.each<[InitOptions | unknown, string]>([
    [{ numNodes: 0 }, "option numNodes must be at least 1 (0 only in dynamic mode, where nodes join)"],
    [{ numNodes: -1 }, "option numNodes must be an integer >= 0, got -1"],
    [{ numNodes: 1.5 }, "option numNodes must be an integer >= 0, got 1.5"],
    [{ numWorkers: 0 }, "option numWorkers must be an integer >= 1, got 0"],
    [{ numWorkers: "2" }, "option numWorkers must be an integer >= 1, got 2"],
    [{ numThreads: -1 }, "option numThreads must be an integer >= 1, got -1"],
    [{ address: "" }, 'option address must be a host name or IP address, got ""'],
    [{ address: 42 }, "option address must be a host name or IP address, got 42"],
    [{ port: -1 }, "option port must be an integer >= 0, got -1"],
    [{ port: 70_000 }, "option port must be at most 65535, got 70000"],
    [{ logLevel: "loud" }, 'unknown log level "loud" (option logLevel): use one of error, warning, info, perf, debug'],
    [{ heartbeatInterval: 0 }, "option heartbeatInterval must be an integer >= 1, got 0"],
    [{ heartbeatTimeout: 0.5 }, "option heartbeatTimeout must be an integer >= 1, got 0.5"],
    [{ heartbeatInterval: 1000, heartbeatTimeout: 10 }, "option heartbeatTimeout (10 ms) must be at least twice heartbeatInterval (1000 ms)"],
    [{ heartbeatInterval: 1000, heartbeatTimeout: 1999 }, "option heartbeatTimeout (1999 ms) must be at least twice heartbeatInterval (1000 ms)"],
    [{ startTimeout: 0 }, "option startTimeout must be an integer >= 1, got 0"],
    [{ memoryFraction: 0 }, "option memoryFraction must be in (0, 1], got 0"],
    [{ memoryFraction: 2 }, "option memoryFraction must be in (0, 1], got 2"],
    [{ memoryFraction: Number.NaN }, "option memoryFraction must be in (0, 1], got NaN"],
    [{ memoryLimit: -5 }, "option memoryLimit must be an integer >= 0, got -5"],
    [{ segmentIdleTime: -1 }, "option segmentIdleTime must be an integer >= 0, got -1"],
    [{ segmentIdleTime: 2 ** 31 }, "option segmentIdleTime must be at most 86400000 ms (a day), got 2147483648"],
    [{ compression: "lz4" }, 'option compression "lz4" is not supported: Bun has no lz4 codec built in, and no maintained pure-JS or wasm one beats zstd here; use "zstd" or "none"'],
    [{ compression: "gzip" }, 'unknown compression "gzip" (option compression): use one of none, zstd, lz4'],
    [{ numWorkres: 2 }, `unknown option "numWorkres": known options are ${OPTION_NAMES.join(", ")}`],
    [{ toString: 2 }, `unknown option "toString": known options are ${OPTION_NAMES.join(", ")}`],
    ["many", "options must be an object, got string"],
  ])("%j is refused: %s", (options, message) => {
    expect(refusal(() => resolveOptions(options as InitOptions, {}))).toBe(message);
  });

  test("the known options listed in the unknown-option error are the whole table", () => {
    expect(OPTION_NAMES).toEqual(Object.keys(DEFAULTS) as (keyof ResolvedOptions)[]);
  });

  test.each<[Record<string, string>, string]>([
    [{ MOSAIC_NUM_WORKERS: "x" }, 'MOSAIC_NUM_WORKERS must be an integer >= 1, got "x"'],
    [{ MOSAIC_NUM_WORKERS: "0" }, 'MOSAIC_NUM_WORKERS must be an integer >= 1, got "0"'],
    [{ MOSAIC_PORT: "65536" }, 'MOSAIC_PORT must be at most 65535, got "65536"'],
    [{ MOSAIC_MEMORY_FRACTION: "most" }, 'MOSAIC_MEMORY_FRACTION must be in (0, 1], got "most"'],
    [{ MOSAIC_LOG_LEVEL: "loud" }, 'unknown log level "loud" (MOSAIC_LOG_LEVEL): use one of error, warning, info, perf, debug'],
    [{ MOSAIC_ADDRESS: " " }, 'MOSAIC_ADDRESS must be a host name or IP address, got " "'],
    [{ MOSAIC_HEARTBEAT_INTERVAL: "5000", MOSAIC_HEARTBEAT_TIMEOUT: "6000" }, "option heartbeatTimeout (6000 ms) must be at least twice heartbeatInterval (5000 ms)"],
  ])("environment %j is refused naming the variable: %s", (env, message) => {
    expect(refusal(() => resolveOptions({}, env))).toBe(message);
  });

  test("a bad environment variable is not read when code sets the option", () => {
    expect(resolveOptions({ numWorkers: 2 }, { MOSAIC_NUM_WORKERS: "x" })).toEqual({ ...DEFAULTS, numWorkers: 2 });
  });
});

/** A small deterministic generator, so that a failing case can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomConfig(next: () => number): RoleConfig {
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const heartbeatInterval = int(1, 10_000);
  const options = resolveOptions(
    {
      numNodes: int(1, 64),
      numWorkers: int(1, 256),
      numThreads: int(1, 32),
      address: ["127.0.0.1", "0.0.0.0", "node-7.cluster", "::1"][int(0, 3)]!,
      port: int(0, 65535),
      logLevel: (["error", "warning", "info", "perf", "debug"] as const)[int(0, 4)]!,
      heartbeatInterval,
      heartbeatTimeout: 2 * heartbeatInterval + int(0, 50_000),
      startTimeout: int(1, 10_000_000),
      memoryFraction: next() || 1,
      memoryLimit: int(0, 2 ** 40),
      segmentIdleTime: int(0, 86_400_000),
      launcher: (["local", "ssh", "slurm", "pbs", "sge"] as const)[int(0, 4)]!,
      sshCommand: ["ssh", "ssh -F '/a b/cfg'"][int(0, 1)]!,
      remoteCommand: ["", "/opt/bin/mosaic --x"][int(0, 1)]!,
      compression: (["none", "zstd"] as const)[int(0, 1)]!,
    },
    {},
  );
  const role = (["monitor", "node", "worker"] as const)[int(0, 2)]!;
  const indices = { monitor: [], node: [int(0, 99)], worker: [int(0, 99), int(0, 99)] }[role];
  const nodeHosts = role === "monitor" && next() < 0.5 ? ["", "h1", "node-7.cluster"].slice(int(0, 2)) : undefined;
  const parentSocket = next() < 0.5 ? "mosaic-12-3456-0123456789abcdef" : undefined;
  return { role, indices, parentAddress: "10.0.0.1", parentPort: int(1, 65535), parentSocket, script: next() < 0.5 ? "/tmp/a b/script.ts" : undefined, nodeHosts, options };
}

describe("options carried to child runtimes", () => {
  test("a child reads back from its argv what its parent resolved, except the head's port", () => {
    const next = random(9);
    for (let i = 0; i < 50; i++) {
      const config = randomConfig(next);
      const expected = { ...config, options: { ...config.options, port: 0 } };
      expect(roleConfigFromArgv(roleConfigToArgv(config))).toEqual(expected);
    }
  });

  test("the child's parser skips the program's own flags and reads --flag=value", () => {
    const config = randomConfig(random(3));
    const [, role, ...rest] = roleConfigToArgv(config);
    const argv = ["--verbose", "data.csv", `--role=${role}`, ...rest, "--mine", "x"];
    expect(roleConfigFromArgv(argv)).toEqual({ ...config, options: { ...config.options, port: 0 } });
  });

  test("a child takes its options from its parent's flags and defaults, never from the environment", () => {
    const argv = ["--role", "monitor", "--parent-address", "127.0.0.1", "--parent-port", "4000"];
    const config = withEnv({ MOSAIC_PORT: "5000", MOSAIC_NUM_WORKERS: "3" }, () => roleConfigFromArgv(argv));
    expect(config).toEqual({ role: "monitor", indices: [], parentAddress: "127.0.0.1", parentPort: 4000, script: undefined, options: DEFAULTS });
  });

  test.each<[string[], string]>([
    [["--role", "head"], '--role must be monitor, node or worker, got "head"'],
    [["--parent-address", "a"], '--role must be monitor, node or worker, got ""'],
    [["--role", "worker", "--indices", "1"], '--indices for a worker needs 2 comma-separated integers, got "1"'],
    [["--role", "node", "--indices", "x"], '--indices must be an integer >= 0, got "x"'],
    [["--role", "monitor"], "--parent-address is required"],
    [["--role", "monitor", "--parent-address", "a", "--parent-port", "0"], '--parent-port must be an integer >= 1, got "0"'],
    [["--role", "monitor", "--parent-address", "a"], '--parent-port must be an integer >= 1, got ""'],
    [["--role", "monitor", "--parent-address", "a", "--parent-port", "1", "--num-workers", "x"], '--num-workers must be an integer >= 1, got "x"'],
    [["--role", "monitor", "--parent-address", "a", "--parent-port", "1", "--memory-fraction", "1.5"], '--memory-fraction must be in (0, 1], got "1.5"'],
    [
      ["--role", "monitor", "--parent-address", "a", "--parent-port", "1", "--heartbeat-interval", "100", "--heartbeat-timeout", "150"],
      "option heartbeatTimeout (150 ms) must be at least twice heartbeatInterval (100 ms)",
    ],
  ])("role flags %j are refused: %s", (argv, message) => {
    expect(refusal(() => roleConfigFromArgv(argv))).toBe(message);
    expect(refusal(() => roleConfigFromFlags(Object.fromEntries(argv.flatMap((arg, i) => (i % 2 ? [] : [[arg.slice(2), argv[i + 1]]])))))).toBe(message);
  });
});

describe("flags of the CLI", () => {
  test("mosaic run has a flag for every option, with the existing spellings and aliases", () => {
    expect(Object.entries(runOptionArgs).map(([flag, arg]) => [flag, "alias" in arg ? arg.alias : undefined])).toEqual([
      ["nnodes", "n"],
      ["nworkers", "w"],
      ["nthreads", undefined],
      ["hosts", undefined],
      ["hostfile", undefined],
      ["launcher", undefined],
      ["ssh-command", undefined],
      ["remote-command", undefined],
      ["reuse-head", undefined],
      ["address", undefined],
      ["port", undefined],
      ["log-level", undefined],
      ["heartbeat-interval", undefined],
      ["heartbeat-timeout", undefined],
      ["start-timeout", undefined],
      ["memory-fraction", undefined],
      ["memory-limit", undefined],
      ["segment-idle-time", undefined],
      ["respawn", undefined],
      ["respawn-attempts", undefined],
      ["monitor-interval", undefined],
      ["profile", undefined],
      ["workspace", undefined],
      ["dashboard", undefined],
      ["warm-pool", undefined],
      ["dynamic", undefined],
      ["secret-file", undefined],
      ["compression", undefined],
    ]);
    // No citty defaults: an absent flag must leave the environment variable in charge.
    expect(Object.values(runOptionArgs).filter((arg) => "default" in arg)).toEqual([]);
  });

  test("mosaic run flags become options, each checked under its flag's name", () => {
    expect(runOptionsFromArgs({ nnodes: "2", nworkers: "3", "log-level": "debug", "memory-limit": "1e9", "heartbeat-interval": "100", other: "x" })).toEqual({
      numNodes: 2,
      numWorkers: 3,
      logLevel: "debug",
      memoryLimit: 1e9,
      heartbeatInterval: 100,
    });
    expect(refusal(() => runOptionsFromArgs({ nworkers: "x" }))).toBe('--nworkers must be an integer >= 1, got "x"');
    expect(refusal(() => runOptionsFromArgs({ nnodes: "-1" }))).toBe('--nnodes must be an integer >= 0, got "-1"');
    expect(refusal(() => resolveOptions(runOptionsFromArgs({ nnodes: "0" }), {}))).toBe("option numNodes must be at least 1 (0 only in dynamic mode, where nodes join)");
    expect(resolveOptions(runOptionsFromArgs({ nnodes: "0", dynamic: true }), {})).toMatchObject({ numNodes: 0, dynamic: true });
    expect(refusal(() => runOptionsFromArgs({ "log-level": "loud" }))).toBe('unknown log level "loud" (--log-level): use one of error, warning, info, perf, debug');
    expect(refusal(() => runOptionsFromArgs({ "segment-idle-time": "1e10" }))).toBe('--segment-idle-time must be at most 86400000 ms (a day), got "1e10"');
  });

  test("--dashboard stands alone (on) or takes a port after =, never the next word", () => {
    const parse = (argv: string[]) => {
      const { flags, script, scriptArgs } = splitAtScript(argv);
      return { options: runOptionsFromArgs(parseArgs(flags, runOptionArgs)), script, scriptArgs };
    };
    expect(parse(["--dashboard", "script.ts", "x"])).toEqual({ options: { dashboard: true }, script: "script.ts", scriptArgs: ["x"] });
    expect(parse(["--dashboard", "-w", "2", "script.ts"])).toEqual({ options: { dashboard: true, numWorkers: 2 }, script: "script.ts", scriptArgs: [] });
    expect(parse(["--dashboard=8300", "script.ts"])).toEqual({ options: { dashboard: 8300 }, script: "script.ts", scriptArgs: [] });
    expect(parse(["--dashboard=0", "script.ts"])).toEqual({ options: { dashboard: 0 }, script: "script.ts", scriptArgs: [] });
    expect(refusal(() => parse(["--dashboard=80", "script.ts"]))).toBe('--dashboard must be true, false or a port (1024-65535, 0: any free one), got "80"');
    expect(resolveOptions({ dashboard: true }, {}).dashboard).toBe(true);
    expect(refusal(() => resolveOptions({ dashboard: "yes" as never }, {}))).toBe('option dashboard must be true, false or a port (1024-65535, 0: any free one), got "yes"');
  });

  test("mosaic --role has the place flags and a flag for every carried option (not the head's port)", () => {
    expect(Object.keys(roleArgs)).toEqual([
      "role", "indices", "parent-address", "parent-port", "parent-socket", "head-address", "head-port", "script", "node-hosts",
      "num-nodes", "num-workers", "num-threads", "launcher", "ssh-command", "remote-command", "address", "log-level", "heartbeat-interval", "heartbeat-timeout",
      "start-timeout", "memory-fraction", "memory-limit", "segment-idle-time", "respawn", "respawn-attempts",
      "monitor-interval", "warm-pool", "dynamic", "compression",
    ]);
  });

  test("an unknown flag is refused naming it", () => {
    expect(refusal(() => rejectUnknownFlags(["-w", "2", "--nworkerz", "2"], runOptionArgs))).toBe("unknown flag --nworkerz: see --help");
    expect(refusal(() => rejectUnknownFlags(["--port=4", "--num-workers=2"], runOptionArgs))).toBe("unknown flag --num-workers: see --help");
    expect(refusal(() => rejectUnknownFlags(["--role", "node", "--nworkers", "2"], roleArgs))).toBe("unknown flag --nworkers: see --help");
    expect(() => rejectUnknownFlags(["-n", "1", "--memory-limit=5", "--help"], runOptionArgs)).not.toThrow();
  });
});

describe("parsing text", () => {
  test("one integer parser: blank, fractional and non-numeric text is no integer", () => {
    expect(["7", " 7 ", "-3", "1e3", "", " ", "1.5", "x", "Infinity"].map(parseInteger)).toEqual([7, 7, -3, 1000, undefined, undefined, undefined, undefined, undefined]);
    expect(["0.25", "", "NaN", "1/2"].map(parseNumber)).toEqual([0.25, undefined, undefined, undefined]);
  });

  test("an on/off option reads the usual spellings and refuses others naming its source", () => {
    expect(["1", "true", "YES", "on", "0", "false", "no", "off"].map((text) => readText(toggle(), text, "MOSAIC_X"))).toEqual([
      true, true, true, true, false, false, false, false,
    ]);
    expect(refusal(() => readText(toggle(), "maybe", "MOSAIC_X"))).toBe('MOSAIC_X must be true or false, got "maybe"');
  });
});
