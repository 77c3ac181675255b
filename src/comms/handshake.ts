/**
 * Mutual proof of the per-cluster secret. Neither side ever sends the secret:
 * each proves it by an HMAC over the other side's fresh nonce.
 */
// Bun's own hasher and Web Crypto rather than node:crypto: every runtime
// process loads this, and node:crypto alone costs several MiB of memory.
import { HandshakeError } from "../errors.ts";

export const NONCE_BYTES = 16;
/** Environment variable through which a parent hands the secret to its children. */
export const SECRET_ENV = "MOSAIC_SECRET";

export function createNonce(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
}

export function createSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
}

/** HMAC over length-prefixed fields, so that no two different inputs read the same. */
export function proveSecret(secret: string, side: "client" | "server", nonce: Uint8Array, uid: string): Uint8Array {
  const hmac = new Bun.CryptoHasher("sha256", secret);
  for (const field of [new TextEncoder().encode(side), nonce, new TextEncoder().encode(uid)]) {
    hmac.update(new Uint8Array(new Uint32Array([field.length]).buffer)).update(field);
  }
  return new Uint8Array(hmac.digest());
}

export function checkNonce(nonce: unknown, who: string): Uint8Array {
  if (!(nonce instanceof Uint8Array) || nonce.length !== NONCE_BYTES) throw new HandshakeError(`${who} sent no valid nonce`);
  return nonce;
}

/** Compares in time independent of where the inputs differ. */
function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ (b[i] ?? 0);
  return difference === 0;
}

export function checkProof(expected: Uint8Array, received: unknown, who: string): void {
  if (!(received instanceof Uint8Array) || received.length !== expected.length || !constantTimeEqual(expected, received)) {
    throw new HandshakeError(`${who} did not prove the cluster secret (wrong MOSAIC_SECRET?)`);
  }
}

/**
 * Reads the secret that the parent runtime passed through the environment and
 * removes it from `process.env`, so user code and grandchildren do not inherit
 * it by accident (children get it explicitly when spawned).
 */
export function takeSecretFromEnv(): string | undefined {
  const secret = process.env[SECRET_ENV];
  delete process.env[SECRET_ENV];
  return secret;
}
