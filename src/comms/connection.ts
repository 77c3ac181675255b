/**
 * One authenticated, framed, bidirectional link to another runtime: requests
 * with ids and replies, one-way commands, raw payloads, heartbeats.
 */
import type { Socket } from "bun";
import {
  ConnectionClosedError,
  describeError,
  HandshakeError,
  localError,
  MosaicError,
  OutOfMemoryError,
  ProtocolError,
  RemoteError,
  TimeoutError,
  UnknownMethodError,
} from "../errors.ts";
import { decodeMessage, encodeMessage } from "./codec.ts";
import { FrameReader, FrameWriter, type OutgoingPayload, type PayloadAllocator, readPathField, type RejectedPayloads, type SharedSizes } from "./framing.ts";
import {
  createSegmentSet,
  discardSegment,
  finishReceive,
  holdMapping,
  isPooledSegment,
  lendSegment,
  mapSegment,
  readSegment,
  forgetSegments,
  removeSegments,
  returnSegment,
  sharedMemoryAvailable,
  SHM_MIN_BYTES,
  whenUnmapped,
  writeSegment,
} from "./shared-memory/index.ts";

/** MOSAIC_SHARED_MEMORY=0 sends every payload over the socket (to compare, or where /dev/shm is small). */
const SHARE_MEMORY = sharedMemoryAvailable() && process.env.MOSAIC_SHARED_MEMORY !== "0";
import { checkNonce, checkProof, createNonce, proveSecret } from "./handshake.ts";
import { processGone } from "../_util/process-state.ts";
import { MessageKind, PROTOCOL_VERSION, type Message, type PeerInfo } from "./protocol.ts";

/** The heartbeat message, encoded once. */
const HEARTBEAT_BODY = Uint8Array.from(encodeMessage([MessageKind.Heartbeat]));

/** Before the handshake only tiny frames are accepted. */
const HANDSHAKE_MAX_BODY = 4 * 1024;
/** After it, message bodies (not raw payloads) up to this size. */
const MAX_BODY = 256 * 1024 * 1024;

/** What a runtime does with incoming traffic. */
export interface ConnectionHandler {
  /** Answers a request; the returned value (or thrown error) goes back to the caller. */
  onRequest(connection: Connection, method: string, args: unknown, payloads: Uint8Array[]): unknown;
  /** `rejected`: the command's raw payloads did not fit this runtime's memory and were skipped. */
  onCommand(connection: Connection, method: string, args: unknown, payloads: Uint8Array[], rejected?: MosaicError): void;
  /** The peer proved the secret; `connection.peer` is set. */
  onAuthenticated?(connection: Connection): void;
  /**
   * Whether payloads of `method` that came through shared memory should be
   * copied into the allocator's memory (default) or mapped; `pooled`: the
   * segment is one of the peer's pool (a mapping of it can be kept and passed
   * on by name), not a one-shot file.
   */
  readSharedPayloads?(method: string | undefined, pooled: boolean): boolean;
  /**
   * Whether payloads it maps may be passed on by name to other runtimes and
   * threads: only where no user code changes them (a worker's main thread).
   */
  readonly passesOnMappedPayloads?: boolean;
  /** Raw payloads came with a message (before it is handled): bytes through shared memory and over the socket. */
  onPayloads?(connection: Connection, sharedBytes: number, socketBytes: number): void;
  onClose?(connection: Connection, reason: MosaicError): void;
}

/** A value plus raw payloads, for replies that carry binary data. */
export class WithPayloads<T = unknown> {
  constructor(readonly value: T, readonly payloads: Uint8Array[]) {}
}

export interface RequestOptions {
  /** Milliseconds before the request fails with TimeoutError (default: none; closing fails it). */
  timeout?: number;
  payloads?: Uint8Array[];
  /** Send the payloads as they are now, even if the caller changes them right after (see FrameWriter). */
  snapshot?: boolean;
  /** The peer keeps the payloads long (an object put there): shared-memory segments are sized to them. */
  lasting?: boolean;
}

interface PendingRequest {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer?: Timer;
  method: string;
}

export interface ConnectionOptions {
  socket: Socket<Connection | undefined>;
  side: "client" | "server";
  self: PeerInfo;
  secret: string;
  handler: ConnectionHandler;
  log: (message: string) => void;
  allocate?: PayloadAllocator;
  /** The uid this client dialled: a server answering with another is refused. */
  expectedPeer?: string;
  /** Asked before raw payloads are allocated; false skips them and fails what they belonged to. */
  admit?: (bytes: number) => boolean;
  handshakeTimeout?: number;
}

export class Connection {
  /** Who is on the other side; set once the handshake succeeds. */
  peer: PeerInfo | undefined;
  lastReceived = performance.now();
  lastSent = performance.now();
  readonly authenticated: Promise<PeerInfo>;
  readonly closed: Promise<MosaicError>;

  #options: ConnectionOptions;
  #writer: FrameWriter;
  #reader: FrameReader;
  #nextId = 1;
  #pending = new Map<number, PendingRequest>();
  #nonce = createNonce();
  #isOpen = true;
  #authenticate = Promise.withResolvers<PeerInfo>();
  #close = Promise.withResolvers<MosaicError>();
  #handshakeTimer: Timer | undefined;

  constructor(options: ConnectionOptions) {
    this.#options = options;
    this.authenticated = this.#authenticate.promise;
    this.authenticated.catch(() => {});
    this.closed = this.#close.promise;
    this.#writer = new FrameWriter(options.socket);
    this.#reader = new FrameReader({ maxBodyBytes: HANDSHAKE_MAX_BODY, allowPayloads: false }, (body, payloads, rejected, shared) =>
      this.#onFrame(body, payloads, rejected, shared),
    );
    if (options.allocate) this.#reader.allocate = options.allocate;
    this.#reader.admit = options.admit;
    this.#handshakeTimer = setTimeout(
      () => this.close(new HandshakeError(`handshake not completed within ${options.handshakeTimeout ?? 5000} ms`)),
      options.handshakeTimeout ?? 5000,
    );
    if (options.side === "server") {
      this.#send([MessageKind.Challenge, PROTOCOL_VERSION, options.self.uid, this.#nonce]);
    }
  }

  get isOpen(): boolean {
    return this.#isOpen;
  }

  get isAuthenticated(): boolean {
    return this.peer !== undefined;
  }

  /** Bytes queued in user space waiting for the socket (backpressure signal). */
  get pendingBytes(): number {
    return this.#writer.pendingBytes;
  }

  request<T = unknown>(method: string, args: unknown, options: RequestOptions = {}): Promise<T> {
    if (!this.#isOpen) return Promise.reject(new ConnectionClosedError(`connection to ${this.#peerName} is closed`));
    const id = this.#nextId++;
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const pending: PendingRequest = { resolve: resolve as (value: unknown) => void, reject, method };
    if (options.timeout !== undefined) {
      pending.timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new TimeoutError(`request "${method}" to ${this.#peerName} got no reply within ${options.timeout} ms`));
      }, options.timeout);
    }
    this.#pending.set(id, pending);
    try {
      this.#send([MessageKind.Request, id, method, args], options.payloads, options.snapshot, options.lasting);
    } catch (error) {
      this.#pending.delete(id);
      clearTimeout(pending.timer);
      reject(error as Error);
    }
    return promise;
  }

  command(method: string, args: unknown, payloads?: Uint8Array[]): void {
    if (this.#isOpen) this.#send([MessageKind.Command, method, args], payloads);
  }

  /** Sends a message that the caller encoded already (a hot path's own encoder). */
  sendEncoded(body: Uint8Array, payloads?: Uint8Array[], snapshot = false): void {
    if (!this.#isOpen) return;
    this.lastSent = performance.now();
    this.#writer.writeFrame(body, payloads && payloads.length > 0 && this.#sharesMemory ? this.#viaSharedMemory(payloads) : payloads, snapshot);
  }

  /** Hands what is queued to the kernel now (before the caller blocks, say), not at the end of the tick. */
  flush(): void {
    if (this.#isOpen) this.#writer.flush();
  }

  heartbeat(): void {
    if (!this.#isOpen || !this.peer) return;
    this.lastSent = performance.now();
    this.#writer.writeFrame(HEARTBEAT_BODY);
  }

  /** Closes the link and fails every request still waiting on it. Idempotent. */
  close(reason: MosaicError = new ConnectionClosedError(`connection to ${this.#peerName} closed`)): void {
    if (!this.#isOpen) return;
    this.#isOpen = false;
    clearTimeout(this.#handshakeTimer);
    this.#writer.flush();
    if (this.#writer.pendingBytes > 0) {
      // The socket is full: let the rest (a last reply, a Fatal, log lines) drain first, briefly.
      const timer = setTimeout(() => this.#endSocket(), 1000);
      this.#writer.onEmpty = () => {
        clearTimeout(timer);
        this.#endSocket();
      };
    } else this.#endSocket();
    const failure =
      reason instanceof ConnectionClosedError || reason instanceof TimeoutError
        ? reason
        : new ConnectionClosedError(`connection to ${this.#peerName} closed: ${reason.message}`, { cause: reason });
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(failure);
    }
    this.#pending.clear();
    this.#authenticate.reject(reason);
    this.#close.resolve(reason);
    this.#options.handler.onClose?.(this, reason);
  }

  #endSocket(): void {
    this.#writer.close();
    removeSegments(this.#segments); // the peer will not map what it has not received by now
    // What it borrowed is not taken back for reuse (a peer whose link closed may be alive and still map it):
    // segments of our pool leave it, and holds on segments we passed on stay until the peer's process is gone.
    forgetSegments(this);
    this.#releasePassedOnWhenGone();
    try {
      this.#options.socket.end();
    } catch {}
  }

  /**
   * Holds on segments passed on to a peer whose link closed are released once
   * its process is seen gone (it maps nothing any more; its socket closes
   * while it exits, a moment before that shows), checked a few times over
   * about a minute. A peer still running after that keeps them.
   */
  #releasePassedOnWhenGone(delays = [50, 500, 5_000, 60_000]): void {
    const pid = this.peer?.pid;
    if (this.#passedOn.size === 0 || pid === undefined || pid === process.pid) return;
    const [delay, ...later] = delays;
    if (delay === undefined) return;
    setTimeout(() => {
      if (!processGone(pid)) return this.#releasePassedOnWhenGone(later);
      for (const releases of this.#passedOn.values()) for (const release of releases) release();
      this.#passedOn.clear();
    }, delay).unref();
  }

  /** Sends a fatal error to the peer, logs it and drops the connection. */
  fail(error: MosaicError): void {
    if (!this.#isOpen) return;
    this.#options.log(`dropping ${this.#peerName}: ${error.message}`);
    // An unauthenticated peer learns what was wrong, not our stack, pid or host.
    const description = this.peer ? describeError(error, this.#options.self.uid) : { name: error.name, code: error.code, message: error.message };
    this.#send([MessageKind.Fatal, description]);
    this.close(error);
  }

  // Socket events, wired by the transport.
  onData(chunk: Uint8Array): void {
    this.lastReceived = performance.now();
    try {
      this.#reader.push(chunk);
    } catch (error) {
      this.fail(error instanceof MosaicError ? error : new ProtocolError(String(error)));
    }
  }

  onDrain(): void {
    this.#writer.onDrain();
  }

  get #peerName(): string {
    return this.peer ? this.peer.uid : `unauthenticated peer (${this.#options.socket.remoteAddress})`;
  }

  #send(message: Message, payloads?: Uint8Array[], snapshot = false, lasting = false): void {
    this.lastSent = performance.now();
    this.#writer.writeFrame(encodeMessage(message), payloads && payloads.length > 0 && this.#sharesMemory ? this.#viaSharedMemory(payloads, lasting) : payloads, snapshot);
  }

  /** Same machine: large payloads go through /dev/shm, the socket carries their paths. */
  get #sharesMemory(): boolean {
    return SHARE_MEMORY && this.peer?.machine !== undefined && this.peer.machine === this.#options.self.machine;
  }

  #segments = createSegmentSet();
  /** Segments mapped here (lent by someone else) that were passed on to the peer by name: released when it hands them back. */
  #passedOn = new Map<string, (() => void)[]>();

  #viaSharedMemory(payloads: Uint8Array[], lasting = false): OutgoingPayload[] {
    return payloads.map((payload) => {
      if (payload.byteLength < SHM_MIN_BYTES) return payload;
      // Already in a pooled segment (mapped here): passed on by name, held until the peer hands it back.
      const held = holdMapping(payload);
      if (held) {
        let releases = this.#passedOn.get(held.path);
        if (!releases) this.#passedOn.set(held.path, (releases = []));
        releases.push(held.release);
        return { path: held.path, size: payload.byteLength };
      }
      try {
        return { path: lendSegment(payload, this, true, lasting)?.path ?? writeSegment(payload, this.#segments), size: payload.byteLength };
      } catch (error) {
        // /dev/shm full (or unusable): this payload takes the socket.
        this.#options.log(`shared memory unavailable for ${payload.byteLength} bytes (${(error as Error).message}): sending over the socket`);
        return payload;
      }
    });
  }

  #onFrame(body: Uint8Array, payloads: Uint8Array[], rejected?: RejectedPayloads, shared?: SharedSizes): void {
    if (!this.#isOpen) return;
    // Heartbeats are most of what an idle runtime receives: recognise them without decoding (no garbage).
    if (body.length === HEARTBEAT_BODY.length && body[0] === HEARTBEAT_BODY[0] && body[1] === HEARTBEAT_BODY[1] && this.peer) return;
    if (rejected) for (const segment of rejected.segments) isPooledSegment(segment) ? this.#giveBack(segment) : discardSegment(segment);
    const message = decodeMessage(body);
    // A payload that cannot be mapped fails its message (the request, the reply, the command), not the link.
    let unreadable: MosaicError | undefined;
    if (shared) {
      try {
        this.#receiveShared(message, payloads, shared);
      } catch (error) {
        unreadable = error as MosaicError;
      }
    }
    // Payloads copied into a pooled segment (from the socket, or read from a peer's segment) become mappings of their own.
    const passable = this.#options.handler.passesOnMappedPayloads === true;
    for (let i = 0; i < payloads.length; i++) payloads[i] = finishReceive(payloads[i]!, passable);
    if (payloads.length > 0 && this.#options.handler.onPayloads) this.#countPayloads(payloads, shared);
    if (!this.peer) return this.#onHandshake(message);
    const refused = (rejected && this.#outOfMemory(rejected.bytes, message)) || unreadable;
    switch (message[0]) {
      case MessageKind.Request:
        if (refused) return this.#send([MessageKind.Failure, message[1], describeError(refused, this.#options.self.uid)]);
        return this.#onRequest(message[1], message[2], message[3], payloads);
      case MessageKind.Reply:
      case MessageKind.Failure: {
        const pending = this.#pending.get(message[1]);
        if (!pending) return; // timed out already
        this.#pending.delete(message[1]);
        clearTimeout(pending.timer);
        if (refused) pending.reject(refused);
        else if (message[0] === MessageKind.Reply) {
          pending.resolve(payloads.length > 0 ? new WithPayloads(message[2], payloads) : message[2]);
        } else pending.reject(localError(message[2]));
        return;
      }
      case MessageKind.Command:
        try {
          this.#options.handler.onCommand(this, message[1], message[2], payloads, refused);
        } catch (error) {
          this.#options.log(`command "${message[1]}" from ${this.#peerName} failed: ${(error as Error).message}`);
        }
        return;
      case MessageKind.Heartbeat:
        return;
      case MessageKind.SegmentsFree:
        if (!Array.isArray(message[1])) throw new ProtocolError("segments-free message without a list of paths");
        for (const path of message[1]) {
          if (typeof path !== "string") continue;
          const releases = this.#passedOn.get(path);
          if (!releases) returnSegment(path, this);
          else {
            releases.pop()!();
            if (releases.length === 0) this.#passedOn.delete(path);
          }
        }
        return;
      case MessageKind.Fatal:
        this.#options.log(`${this.#peerName} dropped the connection: ${message[1].message}`);
        return this.close(new RemoteError(message[1]));
      default:
        throw new ProtocolError(`unexpected message kind ${message[0]} after handshake`);
    }
  }

  #countPayloads(payloads: Uint8Array[], shared: SharedSizes): void {
    let sharedBytes = 0;
    let socketBytes = 0;
    for (let i = 0; i < payloads.length; i++) {
      if (shared?.[i] !== undefined) sharedBytes += payloads[i]!.byteLength;
      else socketBytes += payloads[i]!.byteLength;
    }
    this.#options.handler.onPayloads!(this, sharedBytes, socketBytes);
  }

  /**
   * Payloads that came through /dev/shm: mapped (no copy), or read into memory
   * from the runtime's allocator when it asks for that (workers: shared memory
   * for their threads, where the kernel's copy beats mapping and copying).
   */
  #receiveShared(message: Message, payloads: Uint8Array[], shared: NonNullable<SharedSizes>): void {
    const method = message[0] === MessageKind.Request ? message[2] : message[0] === MessageKind.Command ? message[1] : undefined;
    let failure: ProtocolError | undefined;
    for (let i = 0; i < shared.length; i++) {
      const size = shared[i];
      if (size === undefined) continue;
      const path = readPathField(payloads[i]!);
      const pooled = isPooledSegment(path);
      const read = this.#options.allocate !== undefined && this.#options.handler.readSharedPayloads?.(method, pooled) !== false;
      if (failure) {
        // The message fails anyway: its other segments go back (pooled) or away (one-shot) all the same.
        if (pooled) this.#giveBack(path);
        else discardSegment(path);
        continue;
      }
      try {
        if (!pooled) payloads[i] = read ? readSegment(path, size, this.#options.allocate!) : mapSegment(path, size);
        else if (read) {
          payloads[i] = readSegment(path, size, this.#options.allocate!);
          this.#giveBack(path);
        } else {
          // Used in place: the sender gets the segment back once this memory is collected.
          const bytes = mapSegment(path, size);
          whenUnmapped(bytes, path, () => this.#giveBack(path), this.#options.handler.passesOnMappedPayloads === true);
          payloads[i] = bytes;
        }
      } catch (error) {
        if (pooled) this.#giveBack(path);
        failure = new ProtocolError(`${this.#peerName} sent a shared-memory payload that cannot be mapped: ${(error as Error).message}`);
      }
    }
    if (failure) throw failure;
  }

  #freed: string[] = [];

  /** Hands a pooled segment back to the peer that lent it (batched per tick). */
  #giveBack(path: string): void {
    if (!this.#isOpen) return;
    if (this.#freed.push(path) > 1) return;
    queueMicrotask(() => {
      const paths = this.#freed;
      this.#freed = [];
      if (this.#isOpen && paths.length > 0) this.#send([MessageKind.SegmentsFree, paths]);
    });
  }

  #outOfMemory(bytes: number, message: Message): OutOfMemoryError {
    const what = message[0] === MessageKind.Request || message[0] === MessageKind.Command ? `"${message[0] === MessageKind.Request ? message[2] : message[1]}"` : "a reply";
    return new OutOfMemoryError(
      `${this.#options.self.uid} cannot take ${(bytes / 2 ** 20).toFixed(1)} MiB more for ${what} from ${this.#peerName}: ` +
        "its memory budget is used up (free objects with drop()/release(), or give it more with memoryFraction)",
    );
  }

  #onRequest(id: number, method: string, args: unknown, payloads: Uint8Array[]): void {
    const reply = (value: unknown) => {
      if (value instanceof WithPayloads) this.#send([MessageKind.Reply, id, value.value], value.payloads);
      else this.#send([MessageKind.Reply, id, value]);
    };
    const failure = (error: unknown) => this.#send([MessageKind.Failure, id, describeError(error, this.#options.self.uid)]);
    try {
      const result = this.#options.handler.onRequest(this, method, args, payloads);
      // A reply that cannot be sent (say, a value that cannot be encoded) becomes a failure, never silence.
      if (result instanceof Promise) result.then(reply).catch(failure);
      else reply(result);
    } catch (error) {
      if (error instanceof UnknownMethodError) this.#options.log(`${this.#peerName} called unknown method "${method}"`);
      failure(error);
    }
  }

  #onHandshake(message: Message): void {
    const { secret, self, side } = this.#options;
    if (message[0] === MessageKind.Fatal) {
      const refusal = new RemoteError(message[1]);
      return this.close(new HandshakeError(`${this.#peerName} refused the handshake: ${message[1].message}`, { cause: refusal }));
    }
    if (side === "client" && message[0] === MessageKind.Challenge) {
      const [, version, serverUid, serverNonce] = message;
      this.#checkVersion(version);
      checkNonce(serverNonce, "server");
      if (this.#options.expectedPeer !== undefined && serverUid !== this.#options.expectedPeer) {
        throw new HandshakeError(`dialled ${this.#options.expectedPeer} but ${String(serverUid)} answered`);
      }
      const proof = proveSecret(secret, "client", serverNonce, self.uid);
      this.#pendingServerUid = serverUid;
      this.#send([MessageKind.Hello, PROTOCOL_VERSION, self, this.#nonce, proof]);
      return;
    }
    if (side === "server" && message[0] === MessageKind.Hello) {
      const [, version, info, clientNonce, proof] = message;
      this.#checkVersion(version);
      checkNonce(clientNonce, "client");
      if (!isPeerInfo(info)) throw new HandshakeError("hello carries no valid runtime description");
      checkProof(proveSecret(secret, "client", this.#nonce, info.uid), proof, `peer claiming to be ${info.uid}`);
      this.#send([MessageKind.Welcome, self, proveSecret(secret, "server", clientNonce, self.uid)]);
      return this.#authenticated(info);
    }
    if (side === "client" && message[0] === MessageKind.Welcome) {
      const [, info, proof] = message;
      if (!isPeerInfo(info) || info.uid !== this.#pendingServerUid) throw new HandshakeError("welcome from an unexpected runtime");
      checkProof(proveSecret(secret, "server", this.#nonce, info.uid), proof, `server ${info.uid}`);
      return this.#authenticated(info);
    }
    throw new HandshakeError(`unexpected message kind ${message[0]} during handshake`);
  }

  #pendingServerUid: string | undefined;

  #checkVersion(version: unknown): void {
    if (version !== PROTOCOL_VERSION) {
      throw new HandshakeError(`protocol version mismatch: peer speaks ${String(version)}, this runtime ${PROTOCOL_VERSION}`);
    }
  }

  #authenticated(info: PeerInfo): void {
    clearTimeout(this.#handshakeTimer);
    this.peer = info;
    this.#reader.limits = { maxBodyBytes: MAX_BODY, allowPayloads: true };
    this.#authenticate.resolve(info);
    this.#options.handler.onAuthenticated?.(this);
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
