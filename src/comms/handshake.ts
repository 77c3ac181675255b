/**
 * Mutual proof of the per-cluster secret. Neither side ever sends the secret:
 * each proves it by an HMAC over the other side's fresh nonce.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { HandshakeError } from "../errors.ts";

export const NONCE_BYTES = 16;
/** Environment variable through which a parent hands the secret to its children. */
export const SECRET_ENV = "MOSAIC_SECRET";

export function createNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

export function createSecret(): string {
  return randomBytes(32).toString("hex");
}

export function proveSecret(secret: string, side: "client" | "server", nonce: Uint8Array, uid: string): Uint8Array {
  return new Uint8Array(createHmac("sha256", secret).update(side).update(nonce).update(uid).digest());
}

export function checkProof(expected: Uint8Array, received: unknown, who: string): void {
  if (!(received instanceof Uint8Array) || received.length !== expected.length || !timingSafeEqual(expected, received)) {
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
