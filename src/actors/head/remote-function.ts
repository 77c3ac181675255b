/**
 * Stateless remote functions, as Ray's tasks: `const f = mosaic.remote(function
 * simulate(x, steps) {...})` at module level, then `f(x, 10)` returns a
 * TaskProxy. Calls run on hidden tesserae of the library (FunctionHost), one
 * per worker thread, made on first use; each call goes to the one with the
 * fewest calls pending (least loaded), with the dependency, error and result
 * rules of methods. Hosts restart when their worker dies, and a call that was
 * running then runs again (up to 3 times, Ray's default for tasks).
 *
 * Inside a tessera method (or a remote function) a call goes to the head
 * (nested-client.ts), which runs it here with `callFunction`, never on the
 * host that is running the caller.
 */
import { DeadlockError, InvalidArgumentError } from "../../errors.ts";
import { nestedLink } from "../nested-link.ts";
import { findFunction, registerClass, registerFunction } from "../registry.ts";
import type { ActorClient } from "./actor-client.ts";
import { currentClient } from "./context.ts";
import { nestedFunctionCall } from "./nested-client.ts";
import type { RetryOptions } from "./retries.ts";
import type { TaskProxy } from "./task-proxy.ts";
import type { TesseraHandle } from "./tessera-handle.ts";
import { type CallOptions, type CallResult, ENGINE, type RemoteArgs, type TesseraProxy } from "./tessera-proxy.ts";

/** The library's tessera that runs remote functions (registered under a fixed key in every process). */
class FunctionHost {
  run(key: string, ...args: unknown[]): unknown {
    return findFunction(key)(...args);
  }
}
const HOST_KEY = "mosaic#FunctionHost";
registerClass(FunctionHost, "FunctionHost", HOST_KEY);
const HOST_METHODS: ReadonlySet<string> = new Set(["run"]);

/** Retries of a function call when its worker dies while it runs (Ray's default max_retries). */
const DEFAULT_RETRIES: RetryOptions = { maxRetries: 3 };

type AnyFunction = (...args: any[]) => any;
export type RemoteFunctionCall<F extends AnyFunction> = (...args: RemoteArgs<Parameters<F>>) => TaskProxy<CallResult<ReturnType<F>>>;
/** A remote function: called like the function, returns a TaskProxy; `.options({...})` for a call with options of its own. */
export type RemoteFunction<F extends AnyFunction> = RemoteFunctionCall<F> & {
  readonly key: string;
  options(options: CallOptions): RemoteFunctionCall<F>;
};

type Run = (...args: unknown[]) => TaskProxy<any>;

interface Host {
  proxy: TesseraProxy<FunctionHost>;
  /** Its tessera (its wire id: a nested call never goes to the host running its caller). */
  engine: TesseraHandle;
  /** `run` with the default retries, made once. */
  run: Run;
}

/**
 * Calls a host has not finished: waiting to be sent, or sent and not reported
 * done (a host may restart, so the head tracks each call it sent until then).
 * Read from its tessera, not counted per call: a promise reaction per call
 * cost more than the rest of the choice.
 */
function pendingOf(host: Host): number {
  return host.engine.outbox.length + (host.engine.inFlight?.size ?? 0);
}

/** The hidden hosts of one client (a runtime), made on the first call. */
const pools = new WeakMap<ActorClient, Host[]>();

function hostsOf(client: ActorClient): Host[] {
  let hosts = pools.get(client);
  if (!hosts) {
    const count = Math.max(1, client.liveWorkers().length * client.threadsPerWorker);
    hosts = Array.from({ length: count }, () => {
      const proxy = client.create<FunctionHost>(HOST_KEY, HOST_METHODS, [], { maxRestarts: -1, ...DEFAULT_RETRIES }, true);
      const engine = (proxy as unknown as Record<symbol, TesseraHandle>)[ENGINE]!;
      return { proxy, engine, run: (proxy as unknown as Record<string, Run>).run! };
    });
    pools.set(client, hosts);
  }
  return hosts;
}

function call(key: string, args: unknown[], options: CallOptions | undefined, what: string): TaskProxy<any> {
  if (nestedLink.onThread) return nestedFunctionCall(key, what, args, options);
  return callFunction(currentClient(what), key, args, options);
}

/**
 * Runs function `key` on the least loaded host of `client`; `caller` is the
 * tessera whose method calls it (nested calls, else 0): a host running that
 * method would run the call only after it, which may wait for it.
 */
export function callFunction(client: ActorClient, key: string, args: unknown[], options: CallOptions | undefined, caller = 0): TaskProxy<any> {
  const hosts = hostsOf(client);
  let host: Host | undefined;
  let least = 0;
  for (const candidate of hosts) {
    if (candidate.engine.id === caller) continue;
    const pending = pendingOf(candidate);
    if (!host || pending < least) {
      host = candidate;
      least = pending;
    }
  }
  if (!host) throw new DeadlockError(`${key.split("#").pop()}() was called from a remote function on the only function host, which would run it only after the caller ends: give the runtime more worker threads, or call the function directly`);
  if (options) return (host.run as Run & { options(o: CallOptions): Run }).options({ ...DEFAULT_RETRIES, ...options })(key, ...args);
  return host.engine.call("run", [key, ...args]);
}

/** Makes `fn` callable on the workers: declare it at module level (every process registers it), call it on the head. */
export function remote<F extends AnyFunction>(fn: F): RemoteFunction<F> {
  if (typeof fn !== "function") throw new InvalidArgumentError(`mosaic.remote() takes a function, got ${typeof fn}`);
  const key = registerFunction(fn, remote);
  const what = `${fn.name}()`;
  const remoteFn = ((...args: unknown[]) => call(key, args, undefined, what)) as RemoteFunction<F>;
  Object.defineProperties(remoteFn, {
    key: { value: key },
    options: { value: (options: CallOptions) => (...args: unknown[]) => call(key, args, options, what) },
    name: { value: fn.name },
  });
  return remoteFn;
}
