/**
 * How `X.remote()` finds the actor client of this process's running head. The
 * cluster layer, which starts heads, installs the resolver; the actor model
 * knows nothing of processes or roles. Kept on globalThis (see registry.ts).
 */
import { RuntimeStateError } from "../../errors.ts";
import type { ActorClient } from "./actor-client.ts";
import { nestedLink } from "../nested-link.ts";
import type { TesseraProxy } from "./tessera-proxy.ts";
import type { TesseraOptions } from "./tessera.ts";

/** Returns the running head's client, or throws a RuntimeStateError that says why there is none (`what` names the call). */
export type ClientResolver = (what: string) => ActorClient;

const KEY = Symbol.for("mosaic.actor-client");
const slot = globalThis as Record<symbol, ClientResolver | undefined>;

export function setClientResolver(resolver: ClientResolver): void {
  slot[KEY] = resolver;
}

/** What `X.remote()` needs of a client: the head's ActorClient, or a tessera thread's nested client. */
export interface TesseraCreator {
  create<T>(key: string, methods: ReadonlySet<string>, args: unknown[], options?: TesseraOptions): TesseraProxy<T>;
}

const NESTED = Symbol.for("mosaic.nested-client");
const nestedSlot = globalThis as Record<symbol, TesseraCreator | undefined>;

/** On a tessera thread: its client, which asks the head to create and call on the thread's behalf. */
export function setNestedClient(client: TesseraCreator): void {
  nestedSlot[NESTED] = client;
}

/** The client that creates tesserae here: a tessera thread's own, else the running head's. */
export function currentCreator(what: string): TesseraCreator {
  const nested = nestedSlot[NESTED];
  return nested && nestedLink.onThread ? nested : currentClient(what);
}

export function currentClient(what: string): ActorClient {
  const resolve = slot[KEY];
  if (!resolve) throw new RuntimeStateError(`${what} needs a running runtime: call \`await mosaic.init()\` (or interactive("on")) first`);
  return resolve(what);
}
