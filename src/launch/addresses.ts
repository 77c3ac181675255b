/**
 * Which address a runtime listens on and advertises. Local mode stays on
 * loopback; in cluster mode each runtime takes the address of its own host's
 * interface that reaches the others, as the kernel's routing picks it (a UDP
 * socket "connected" to the peer: no packet is sent). Host names are resolved
 * once, with an error naming the one that does not resolve. Resolvers and
 * sockets are imported when first needed: local mode (loopback) never loads them.
 */
import { networkInterfaces } from "node:os";
import { HostResolutionError } from "../errors.ts";

export interface ResolvedHost {
  name: string;
  address: string;
}

export function isLoopback(address: string): boolean {
  return address === "localhost" || address === "::1" || address.startsWith("127.");
}

/** An address that means "every interface": listened on, never advertised. */
export function isWildcard(address: string): boolean {
  return address === "0.0.0.0" || address === "::";
}

/** Addresses of this host's interfaces (its network namespace's). */
export function localAddresses(): Set<string> {
  const addresses = new Set<string>();
  for (const entries of Object.values(networkInterfaces())) for (const entry of entries ?? []) addresses.add(entry.address);
  return addresses;
}

/** Whether this host has `address` on one of its interfaces. */
export function isLocalAddress(address: string): boolean {
  return isLoopback(address) || localAddresses().has(address);
}

/** The address `name` resolves to here (an IP address is its own), or HostResolutionError naming it. */
export async function resolveHost(name: string): Promise<string> {
  const [{ isIP }, { lookup }] = await Promise.all([import("node:net"), import("node:dns/promises")]);
  if (isIP(name)) return name;
  try {
    return (await lookup(name, { family: 0 })).address;
  } catch (error) {
    throw new HostResolutionError(`host "${name}" does not resolve to an address (${(error as Error).message}): check its name, or give its address`, {
      cause: error,
    });
  }
}

/** Every name resolved once, in order; the first that fails names itself. */
export async function resolveHosts(names: string[]): Promise<ResolvedHost[]> {
  const addresses = await Promise.allSettled(names.map(resolveHost));
  const failed = addresses.find((result) => result.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return names.map((name, i) => ({ name, address: (addresses[i] as PromiseFulfilledResult<string>).value }));
}

/** This host's address on the route to `target` (an IP address), as the kernel would send from. */
export async function routeAddress(target: string): Promise<string> {
  if (isLoopback(target)) return target === "::1" ? "::1" : "127.0.0.1";
  const [{ default: dgram }, { isIP }] = await Promise.all([import("node:dgram"), import("node:net")]);
  const { promise, resolve, reject } = Promise.withResolvers<string>();
  const socket = dgram.createSocket(isIP(target) === 6 ? "udp6" : "udp4");
  socket.once("error", (error) => {
    socket.close();
    reject(new HostResolutionError(`no route from this host to ${target}: ${error.message}`, { cause: error }));
  });
  // Port 9 (discard): connect() on UDP only picks the route and the source address.
  socket.connect(9, target, () => {
    const { address } = socket.address();
    socket.close();
    resolve(address);
  });
  return promise;
}

/**
 * Where a runtime listens and what it advertises, given the address it was
 * told (`wanted`) and a peer it must reach (its parent, or the other hosts).
 * A loopback address stays as it is (local mode); an address of another
 * host (the head's, carried down the tree) becomes this host's address toward
 * the peer; a wildcard listens everywhere and advertises that address.
 */
export async function chooseAddress(wanted: string, peer: string): Promise<{ listen: string; advertise: string }> {
  if (isLoopback(wanted)) return { listen: wanted, advertise: wanted };
  if (isWildcard(wanted)) return { listen: wanted, advertise: await routeAddress(peer) };
  if (localAddresses().has(wanted)) return { listen: wanted, advertise: wanted };
  const own = await routeAddress(peer);
  return { listen: own, advertise: own };
}
