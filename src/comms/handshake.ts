/**
 * Mutual proof of the per-cluster secret. Neither side ever sends the secret:
 * each proves it by an HMAC over the other side's fresh nonce. The exchange:
 * server Challenge (version, uid, nonce) → client Hello (version, info, nonce,
 * proof) → server Welcome (info, proof).
 */
// Bun's own hasher and Web Crypto rather than node:crypto: every runtime
// process loads this, and node:crypto alone costs several MiB of memory.
import { HandshakeError } from "../errors.ts";
import { type Message, MessageKind, type PeerInfo, PROTOCOL_VERSION } from "./protocol.ts";

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

/** What a handshake message calls for: a message to send back, and the peer once it proved the secret. */
export interface HandshakeStep {
  reply?: Message;
  peer?: PeerInfo;
}

/** One side's part in the exchange; a message that breaks it throws HandshakeError. */
export class Handshake {
  readonly #side: "client" | "server";
  readonly #self: PeerInfo;
  readonly #secret: string;
  readonly #expectedPeer: string | undefined;
  readonly #nonce = createNonce();
  #serverUid: string | undefined;

  constructor(side: "client" | "server", self: PeerInfo, secret: string, expectedPeer?: string) {
    this.#side = side;
    this.#self = self;
    this.#secret = secret;
    this.#expectedPeer = expectedPeer;
  }

  /** The server speaks first. */
  opening(): Message | undefined {
    return this.#side === "server" ? [MessageKind.Challenge, PROTOCOL_VERSION, this.#self.uid, this.#nonce] : undefined;
  }

  step(message: Message): HandshakeStep {
    const secret = this.#secret;
    const self = this.#self;
    if (this.#side === "client" && message[0] === MessageKind.Challenge) {
      const [, version, serverUid, serverNonce] = message;
      checkVersion(version);
      checkNonce(serverNonce, "server");
      if (this.#expectedPeer !== undefined && serverUid !== this.#expectedPeer) {
        throw new HandshakeError(`dialled ${this.#expectedPeer} but ${String(serverUid)} answered`);
      }
      this.#serverUid = serverUid;
      return { reply: [MessageKind.Hello, PROTOCOL_VERSION, self, this.#nonce, proveSecret(secret, "client", serverNonce, self.uid)] };
    }
    if (this.#side === "server" && message[0] === MessageKind.Hello) {
      const [, version, info, clientNonce, proof] = message;
      checkVersion(version);
      checkNonce(clientNonce, "client");
      if (!isPeerInfo(info)) throw new HandshakeError("hello carries no valid runtime description");
      checkProof(proveSecret(secret, "client", this.#nonce, info.uid), proof, `peer claiming to be ${info.uid}`);
      return { reply: [MessageKind.Welcome, self, proveSecret(secret, "server", clientNonce, self.uid)], peer: info };
    }
    if (this.#side === "client" && message[0] === MessageKind.Welcome) {
      const [, info, proof] = message;
      if (!isPeerInfo(info) || info.uid !== this.#serverUid) throw new HandshakeError("welcome from an unexpected runtime");
      checkProof(proveSecret(secret, "server", this.#nonce, info.uid), proof, `server ${info.uid}`);
      return { peer: info };
    }
    throw new HandshakeError(`unexpected message kind ${message[0]} during handshake`);
  }
}

function checkVersion(version: unknown): void {
  if (version !== PROTOCOL_VERSION) {
    throw new HandshakeError(`protocol version mismatch: peer speaks ${String(version)}, this runtime ${PROTOCOL_VERSION}`);
  }
}

function isPeerInfo(value: unknown): value is PeerInfo {
  const info = value as PeerInfo;
  return (
    typeof info === "object" &&
    info !== null &&
    typeof info.uid === "string" &&
    typeof info.address === "string" &&
    typeof info.port === "number" &&
    typeof info.pid === "number"
  );
}
