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
import { compressionEnabled, compressPayloads } from "./compression.ts";
import { type BodyWriter, FrameReader, FrameWriter, type OutgoingPayload, type PayloadAllocator, type RejectedPayloads, type SharedSizes } from "./framing.ts";
import { Handshake } from "./handshake.ts";
import { MAX_BODY_BYTES, MessageKind, type Message, type PeerInfo } from "./protocol.ts";
import { SharedPayloads } from "./shared-payloads.ts";
import { finishReceive, sharedArrayBytes, sharedMemoryAvailable } from "./shared-memory/index.ts";

/** MOSAIC_SHARED_MEMORY=0 sends every payload over the socket (to compare, or where /dev/shm is small). */
const SHARE_MEMORY = sharedMemoryAvailable() && process.env.MOSAIC_SHARED_MEMORY !== "0";

/** The heartbeat message, encoded once. */
const HEARTBEAT_BODY = Uint8Array.from(encodeMessage([MessageKind.Heartbeat]));

/** Before the handshake only tiny frames are accepted. */
const HANDSHAKE_MAX_BODY = 4 * 1024;

/** What a runtime does with incoming traffic. */
export interface ConnectionHandler {
  /** Answers a request; the returned value (or thrown error) goes back to the caller. */
  onRequest(connection: Connection, method: string, args: unknown, payloads: Uint8Array[]): unknown;
  /** `rejected`: the command's raw payloads did not fit this runtime's memory and were skipped. */
  onCommand(connection: Connection, method: string, args: unknown, payloads: Uint8Array[], rejected?: MosaicError): void;
  /**
   * A command without payloads that the handler reads faster itself than the
   * generic decode (a hot message of a fixed layout), in bytes `start` to `end`
   * of `body` (a socket chunk, read in place; keep no view of it): [method,
   * args], or undefined to have the body decoded as usual.
   */
  readCommand?(body: Uint8Array, start: number, end: number): [method: string, args: unknown] | undefined;
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
  /**
   * Whether large payloads the peer announces before copying them into its
   * segment are mapped here meanwhile (see mapAhead): where they are used in
   * place, by a thread that would otherwise fault their pages in afterwards.
   */
  readonly mapsSharedAhead?: boolean;
  /**
   * Whether segments the peer prepared in idle time for its first large
   * payloads (warmPool) are mapped here and their pages touched before one
   * comes (see warmKept): where payloads are used in place (a tessera thread,
   * the head), not read into memory.
   */
  readonly mapsWarmSegments?: boolean;
  /**
   * Raw payloads came with a message (before it is handled): bytes through shared memory and over
   * the socket, and `wireBytes`, what those took on the socket (fewer when some came compressed).
   */
  onPayloads?(connection: Connection, sharedBytes: number, socketBytes: number, wireBytes: number): void;
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

/** The payloads of a command read in place (none): one array for all, never changed. */
const NO_PAYLOADS: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

export class Connection {
  /** Who is on the other side; set once the handshake succeeds. */
  peer: PeerInfo | undefined;
  lastReceived = performance.now();
  lastSent = performance.now();
  /**
   * Whether sends update lastSent: only on a link that carries heartbeats (a
   * child's to its parent, set by the runtime's first heartbeat check of it).
   * The head's links to threads carry most calls and no heartbeats: a clock
   * reading per call was ~5% of the head's time in pipelined calls.
   */
  tracksSent = false;
  readonly authenticated: Promise<PeerInfo>;
  readonly closed: Promise<MosaicError>;

  #options: ConnectionOptions;
  #writer: FrameWriter;
  #reader: FrameReader;
  #nextId = 1;
  #pending = new Map<number, PendingRequest>();
  #handshake: Handshake;
  #shared: SharedPayloads;
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
    this.#writer.onError = (error) => this.#failWith(error);
    this.#reader = new FrameReader({ maxBodyBytes: HANDSHAKE_MAX_BODY, allowPayloads: false }, (body, payloads, rejected, shared, wire) =>
      this.#onFrame(body, payloads, rejected, shared, wire),
    );
    if (options.allocate) this.#reader.allocate = options.allocate;
    this.#reader.admit = options.admit;
    this.#reader.readInPlace = (chunk, start, end) => this.#readInPlace(chunk, start, end);
    this.#reader.onError = (error) => this.#failWith(error);
    this.#handshakeTimer = setTimeout(
      () => this.close(new HandshakeError(`handshake not completed within ${options.handshakeTimeout ?? 5000} ms`)),
      options.handshakeTimeout ?? 5000,
    );
    this.#shared = new SharedPayloads({
      send: (message) => {
        if (this.#isOpen) this.#send(message);
      },
      log: options.log,
      allocate: options.allocate,
      readShared: (method, pooled) => options.handler.readSharedPayloads?.(method, pooled) !== false,
      sendNow: (message) => {
        if (!this.#isOpen) return;
        this.#send(message);
        this.#writer.flush();
      },
      passable: () => options.handler.passesOnMappedPayloads === true,
      mapsAhead: () => options.handler.mapsSharedAhead === true,
      mapsWarm: () => options.handler.mapsWarmSegments === true,
    });
    this.#handshake = new Handshake(options.side, options.self, options.secret, options.expectedPeer);
    const opening = this.#handshake.opening();
    if (opening) this.#send(opening);
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
    if (this.tracksSent) this.lastSent = performance.now();
    this.#writer.writeFrame(body, this.#outgoing(payloads, false), snapshot);
  }

  /** Sends a message without payloads that writes itself into the frame writer's stage (see FrameWriter.writeFrameWith). */
  sendEncodedWith(length: number, body: BodyWriter): void {
    if (!this.#isOpen) return;
    if (this.tracksSent) this.lastSent = performance.now();
    this.#writer.writeFrameWith(length, body);
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
    // Bytes left for later turns (compressed payloads being restored) are of no use now.
    this.#reader.stop();
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
    this.#shared.close(this.peer?.pid);
    try {
      this.#options.socket.end();
    } catch {}
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
      this.#failWith(error);
    }
  }

  #failWith(error: unknown): void {
    this.fail(error instanceof MosaicError ? error : new ProtocolError(String(error)));
  }

  onDrain(): void {
    this.#writer.onDrain();
  }

  /** The peer's address as the socket gives it: undefined over a Unix socket. */
  get remoteAddress(): string | undefined {
    return this.#options.socket.remoteAddress || undefined;
  }

  get #peerName(): string {
    return this.peer ? this.peer.uid : `unauthenticated peer (${this.#options.socket.remoteAddress || "address unknown"})`;
  }

  #send(message: Message, payloads?: Uint8Array[], snapshot = false, lasting = false): void {
    if (this.tracksSent) this.lastSent = performance.now();
    this.#writer.writeFrame(encodeMessage(message), this.#outgoing(payloads, lasting), snapshot);
  }

  /** Payloads as they travel: through /dev/shm to this machine, compressed (when it pays) to others. */
  #outgoing(payloads: Uint8Array[] | undefined, lasting: boolean): OutgoingPayload[] | undefined {
    if (!payloads || payloads.length === 0) return payloads;
    if (this.#sharesMemory) return this.#shared.outgoing(payloads, lasting);
    // Sent shared arrays travel as bytes here: their stand-ins become mappings of them.
    payloads = payloads.map(sharedArrayBytes);
    const machine = this.peer?.machine;
    if (compressionEnabled() && machine !== undefined && machine !== this.#options.self.machine) return compressPayloads(payloads);
    return payloads;
  }

  /** Same machine: large payloads go through /dev/shm, the socket carries their paths. */
  get #sharesMemory(): boolean {
    return SHARE_MEMORY && this.peer?.machine !== undefined && this.peer.machine === this.#options.self.machine;
  }

  /**
   * A frame without payloads (bytes `start` to `end` of its chunk, or of the
   * buffer it was assembled in): a heartbeat or a command the handler reads
   * itself is handled here, without a view of the chunk; false: the frame
   * goes the usual way (#onFrame).
   */
  #readInPlace(chunk: Uint8Array, start: number, end: number): boolean {
    if (!this.#isOpen) return true;
    if (!this.peer) return false;
    // Heartbeats are most of what an idle runtime receives: recognise them without decoding (no garbage).
    if (end - start === HEARTBEAT_BODY.length && chunk[start] === HEARTBEAT_BODY[0] && chunk[start + 1] === HEARTBEAT_BODY[1]) return true;
    const handler = this.#options.handler;
    const command = handler.readCommand?.(chunk, start, end);
    if (!command) return false;
    try {
      handler.onCommand(this, command[0], command[1], NO_PAYLOADS);
    } catch (error) {
      this.#options.log(`command "${command[0]}" from ${this.#peerName} failed: ${(error as Error).message}`);
    }
    return true;
  }

  #onFrame(body: Uint8Array, payloads: Uint8Array[], rejected?: RejectedPayloads, shared?: SharedSizes, wire?: number): void {
    if (!this.#isOpen) return;
    if (rejected) this.#shared.dismiss(rejected.segments);
    const message = decodeMessage(body);
    // A payload that cannot be mapped fails its message (the request, the reply, the command), not the link.
    let unreadable: MosaicError | undefined;
    if (shared) {
      try {
        this.#shared.receive(message, payloads, shared, this.#peerName);
      } catch (error) {
        unreadable = error as MosaicError;
      }
    }
    // Payloads copied into a pooled segment (from the socket, or read from a peer's segment) become mappings of their own.
    const passable = this.#options.handler.passesOnMappedPayloads === true;
    for (let i = 0; i < payloads.length; i++) payloads[i] = finishReceive(payloads[i]!, passable);
    if (payloads.length > 0 && this.#options.handler.onPayloads) this.#countPayloads(payloads, shared, wire);
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
        return this.#shared.onSegmentsFree(message[1]);
      case MessageKind.SegmentAhead:
        return this.#shared.onSegmentAhead(message[1], message[2]);
      case MessageKind.SegmentWarm:
        // Only from a peer that shares this machine's memory, naming a segment of its own.
        if (this.#sharesMemory) this.#shared.onSegmentWarm(message[1], message[2], this.peer!.pid);
        return;
      case MessageKind.Fatal:
        this.#options.log(`${this.#peerName} dropped the connection: ${message[1].message}`);
        return this.close(new RemoteError(message[1]));
      default:
        throw new ProtocolError(`unexpected message kind ${message[0]} after handshake`);
    }
  }

  #countPayloads(payloads: Uint8Array[], shared: SharedSizes, wire: number | undefined): void {
    let sharedBytes = 0;
    let socketBytes = 0;
    for (let i = 0; i < payloads.length; i++) {
      if (shared?.[i] !== undefined) sharedBytes += payloads[i]!.byteLength;
      else socketBytes += payloads[i]!.byteLength;
    }
    this.#options.handler.onPayloads!(this, sharedBytes, socketBytes, wire ?? socketBytes);
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
    if (message[0] === MessageKind.Fatal) {
      const refusal = new RemoteError(message[1]);
      return this.close(new HandshakeError(`${this.#peerName} refused the handshake: ${message[1].message}`, { cause: refusal }));
    }
    const { reply, peer } = this.#handshake.step(message);
    if (reply) this.#send(reply);
    if (peer) this.#authenticated(peer);
  }

  #authenticated(info: PeerInfo): void {
    clearTimeout(this.#handshakeTimer);
    this.peer = info;
    this.#reader.limits = { maxBodyBytes: MAX_BODY_BYTES, allowPayloads: true };
    this.#authenticate.resolve(info);
    if (this.#sharesMemory) this.#shared.announceWarmSegments();
    this.#options.handler.onAuthenticated?.(this);
  }
}
