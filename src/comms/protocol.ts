/**
 * The wire protocol: types only. Every frame body is a msgpackr-encoded tuple
 * whose first element is a `MessageKind`. Behaviour lives in connection.ts.
 */
import type { ErrorDescription } from "../errors.ts";

/** Bumped whenever a frame or message changes shape; checked at handshake. */
export const PROTOCOL_VERSION = 9;

/** After the handshake, message bodies (not raw payloads) up to this size; a larger frame ends the connection. */
export const MAX_BODY_BYTES = 256 * 1024 * 1024;

export const MessageKind = {
  Request: 0,
  Reply: 1,
  Failure: 2,
  Command: 3,
  Heartbeat: 4,
  /** Sent just before the sender closes the connection because of the peer. */
  Fatal: 5,
  /** Pooled shared-memory segments the receiver no longer maps: the sender may reuse them. */
  SegmentsFree: 6,
  /** A payload is being copied into this pooled segment for the receiver, whose message follows: it may map it now. */
  SegmentAhead: 7,
  /** The sender prepared this pooled segment in idle time for its first large payloads (warmPool): the receiver may map it and touch its pages now. */
  SegmentWarm: 8,
  Challenge: 10,
  Hello: 11,
  Welcome: 12,
} as const;

/** What a runtime says about itself when it connects or accepts. */
export interface PeerInfo {
  uid: string;
  address: string;
  port: number;
  pid: number;
  /** Machine (and boot) identity: runtimes with the same one can share memory. */
  machine?: string;
  /** The Unix socket beside its port, for peers of its machine (transports/unix-socket.ts). */
  socket?: string;
}

export type RequestMessage = [kind: 0, id: number, method: string, args: unknown];
export type ReplyMessage = [kind: 1, id: number, value: unknown];
export type FailureMessage = [kind: 2, id: number, error: ErrorDescription];
export type CommandMessage = [kind: 3, method: string, args: unknown];
export type HeartbeatMessage = [kind: 4];
export type FatalMessage = [kind: 5, error: ErrorDescription];
export type SegmentsFreeMessage = [kind: 6, paths: string[]];
export type SegmentAheadMessage = [kind: 7, path: string, size: number];
export type SegmentWarmMessage = [kind: 8, path: string, size: number];
/** Server → client, first frame: protocol version, server uid, server nonce. */
export type ChallengeMessage = [kind: 10, version: number, uid: string, nonce: Uint8Array];
/** Client → server: proof = HMAC(secret, "client" | serverNonce | client uid). */
export type HelloMessage = [kind: 11, version: number, info: PeerInfo, nonce: Uint8Array, proof: Uint8Array];
/** Server → client: proof = HMAC(secret, "server" | clientNonce | server uid). */
export type WelcomeMessage = [kind: 12, info: PeerInfo, proof: Uint8Array];

export type Message =
  | RequestMessage
  | ReplyMessage
  | FailureMessage
  | CommandMessage
  | HeartbeatMessage
  | FatalMessage
  | SegmentsFreeMessage
  | SegmentAheadMessage
  | SegmentWarmMessage
  | ChallengeMessage
  | HelloMessage
  | WelcomeMessage;

/** Frame kinds (the byte after the 4-byte length). */
export const FrameKind = {
  /** Body is one message. */
  Message: 1,
  /**
   * Body is [u16 count][u64 size]*count then one message; `count` raw payloads
   * follow the frame. A size with SHARED_PAYLOAD_FLAG set is a payload in a
   * shared-memory segment: what follows is its path (SHM_PATH_FIELD bytes).
   * A size with COMPRESSED_PAYLOAD_FLAG set is the size a compressed payload
   * restores to; what follows is its blocks (compression.ts: each an 8-byte
   * header, then a zstd frame or raw bytes), until they restore to that size.
   */
  MessageWithPayloads: 2,
} as const;

/** Marks a payload size as "in a shared-memory segment" (bit 62). */
export const SHARED_PAYLOAD_FLAG = 1n << 62n;

/** Marks a payload size as "compressed" (bit 61): the payload crosses as compressed blocks. */
export const COMPRESSED_PAYLOAD_FLAG = 1n << 61n;

/** 4-byte little-endian body length + 1-byte frame kind. */
export const FRAME_HEADER_BYTES = 5;
