/**
 * How `X.remote()` finds the actor client of this process's running head. The
 * cluster layer, which starts heads, installs the resolver; the actor model
 * knows nothing of processes or roles. Kept on globalThis (see registry.ts).
 */
import { RuntimeStateError } from "../../errors.ts";
import type { ActorClient } from "./actor-client.ts";

/** Returns the running head's client, or throws a RuntimeStateError that says why there is none (`what` names the call). */
export type ClientResolver = (what: string) => ActorClient;

const KEY = Symbol.for("mosaic.actor-client");
const slot = globalThis as Record<symbol, ClientResolver | undefined>;

export function setClientResolver(resolver: ClientResolver): void {
  slot[KEY] = resolver;
}

export function currentClient(what: string): ActorClient {
  const resolve = slot[KEY];
  if (!resolve) throw new RuntimeStateError(`${what} needs a running runtime: call \`await mosaic.init()\` (or interactive("on")) first`);
  return resolve(what);
}
