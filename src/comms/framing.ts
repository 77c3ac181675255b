/**
 * Length-prefixed frames over a byte stream, in both directions.
 *
 * A frame is [u32 LE body length][u8 kind][body]. A `MessageWithPayloads`
 * frame is followed by raw payloads (typed-array bytes) that never pass through
 * msgpackr: the writer hands them to the socket as they are and the reader
 * copies them once, from the socket chunks straight into their final memory.
 */
import { ProtocolError } from "../errors.ts";
import { FRAME_HEADER_BYTES, FrameKind, SHARED_PAYLOAD_FLAG } from "./protocol.ts";
import { receiveTarget, scratchCopy, SHM_PATH_FIELD } from "./shared-memory/index.ts";

/** A payload that the sender put in a shared-memory segment: only its path crosses the socket. */
export interface SharedPayload {
  path: string;
  size: number;
}

export type OutgoingPayload = Uint8Array | SharedPayload;

function pathField(path: string): Uint8Array {
  const field = new Uint8Array(SHM_PATH_FIELD);
  const { written } = new TextEncoder().encodeInto(path, field);
  if (written !== path.length || written === SHM_PATH_FIELD) throw new ProtocolError(`shared segment path too long: ${path}`);
  return field;
}

/** Something that takes bytes and says how many it took (a Bun socket). */
export interface ByteSink {
  write(data: Uint8Array): number;
}

/** Small writes are gathered in a staging buffer and sent in one syscall. */
const STAGE_BYTES = 64 * 1024;
/** A writer that wrote less than this many milliseconds ago is busy: it coalesces over a loop turn. */
const BUSY_MS = 0.05;
/** Payloads at least this big are written from their own memory, not staged. */
const DIRECT_BYTES = 32 * 1024;

/**
 * Queues frames and writes them when the socket accepts them. Bun's
 * `socket.write` returns how many bytes the kernel accepted and buffers
 * nothing (a 64 MiB write may take 4 MB): the unsent tail stays here until `drain`.
 */
export class FrameWriter {
  #sink: ByteSink;
  #queue: Uint8Array[] = [];
  #stage = new Uint8Array(STAGE_BYTES);
  #stageView = new DataView(this.#stage.buffer);
  #stageLength = 0;
  #blocked = false;
  #scheduled = false;
  #closed = false;
  #queuedBytes = 0;

  readonly #flushLater = () => this.flush();

  constructor(sink: ByteSink) {
    this.#sink = sink;
    this.#owned.add(this.#stage.buffer);
  }

  /** Bytes accepted but not yet handed to the kernel. */
  get pendingBytes(): number {
    return this.#queuedBytes + this.#stageLength;
  }

  /**
   * Queues a frame. With `snapshot`, payloads are taken as they are now: what
   * the socket does not accept at once is copied (the caller may change its
   * arrays right after a call; large payloads are otherwise sent from where they are).
   */
  writeFrame(body: Uint8Array, payloads?: readonly OutgoingPayload[], snapshot = false): void {
    if (this.#closed) return;
    const count = payloads?.length ?? 0;
    if (count > 0xffff) throw new ProtocolError(`a frame carries at most 65535 raw payloads, not ${count}`);
    const prefix = count > 0 ? 2 + 8 * count : 0;
    const length = prefix + body.length;
    if (length > 0xffffffff) throw new ProtocolError(`frame body of ${length} bytes exceeds the 4 GiB frame limit`);
    this.#reserve(FRAME_HEADER_BYTES + prefix + Math.min(body.length, DIRECT_BYTES));
    const view = this.#stageView;
    let at = this.#stageLength;
    view.setUint32(at, length, true);
    view.setUint8(at + 4, count > 0 ? FrameKind.MessageWithPayloads : FrameKind.Message);
    at += FRAME_HEADER_BYTES;
    if (count > 0) {
      view.setUint16(at, count, true);
      at += 2;
      for (const payload of payloads!) {
        if (payload instanceof Uint8Array) view.setBigUint64(at, BigInt(payload.byteLength), true);
        else view.setBigUint64(at, BigInt(payload.size) | SHARED_PAYLOAD_FLAG, true);
        at += 8;
      }
    }
    this.#stageLength = at;
    this.#append(body);
    let borrowed = false;
    for (let i = 0; i < count; i++) {
      const payload = payloads![i]!;
      borrowed ||= payload instanceof Uint8Array && payload.byteLength >= DIRECT_BYTES;
      this.#append(payload instanceof Uint8Array ? payload : pathField(payload.path));
    }
    if (snapshot && borrowed) {
      this.flush();
      this.#adoptQueue();
    }
    this.#schedule();
  }

  /** Memory this writer owns (its stages, copies it made): never copied again. */
  #owned = new WeakSet<ArrayBufferLike>();

  /**
   * Copies queued bytes that still live in a caller's memory. Those are the
   * chunks appended since the last adoption, at the end of the queue: walk back
   * from there only (a blocked socket with a long queue must not cost O(n) per call).
   */
  #adoptQueue(): void {
    let remaining = this.#borrowed;
    for (let i = this.#queue.length - 1; i >= 0 && remaining > 0; i--) {
      const chunk = this.#queue[i]!;
      if (this.#owned.has(chunk.buffer)) continue;
      // Large tails go to warm shared memory (a memcpy); fresh memory would fault in every page.
      const scratch = scratchCopy(chunk);
      const copy = scratch?.copy ?? Uint8Array.prototype.slice.call(chunk);
      if (scratch) this.#scratch.set(copy.buffer, scratch.release);
      this.#owned.add(copy.buffer);
      this.#queue[i] = copy;
      remaining--;
    }
    this.#borrowed = 0;
  }

  /** Queued chunks appended from a caller's memory since the last adoption. */
  #borrowed = 0;

  /** Scratch segments holding queued copies (one chunk each), released once written. */
  #scratch = new Map<ArrayBufferLike, () => void>();

  #written(chunk: Uint8Array): void {
    if (this.#scratch.size === 0) return;
    const release = this.#scratch.get(chunk.buffer);
    if (!release) return;
    this.#scratch.delete(chunk.buffer);
    release();
  }

  /** Writes what the socket takes now; the rest waits for `onDrain`. */
  flush(): void {
    this.#scheduled = false;
    this.#lastFlush = performance.now();
    if (this.#blocked || this.#closed) return;
    while (this.#queue.length > 0) {
      const chunk = this.#queue[0]!;
      const written = this.#sink.write(chunk);
      if (written < 0) return this.close();
      this.#queuedBytes -= Math.max(written, 0);
      if (written < chunk.length) {
        this.#queue[0] = chunk.subarray(written);
        this.#blocked = true;
        return;
      }
      this.#written(this.#queue.shift()!);
    }
    if (this.#stageLength === 0) return;
    const staged = this.#stage.subarray(0, this.#stageLength);
    const written = this.#sink.write(staged);
    if (written < 0) return this.close();
    if (written === staged.length) {
      this.#stageLength = 0; // the kernel has it all: the stage can be reused
      return;
    }
    // The kernel took only the head of the stage: the queue keeps the unsent
    // tail (a view of this stage), so later frames go to a fresh stage.
    this.#queue.push(staged.subarray(written));
    this.#queuedBytes += staged.length - written;
    this.#newStage();
    this.#blocked = true;
  }

  /** Called once everything queued has been handed to the kernel (used when closing). */
  onEmpty: (() => void) | undefined;

  onDrain(): void {
    this.#blocked = false;
    this.flush();
    if (this.onEmpty && this.pendingBytes === 0) this.onEmpty();
  }

  close(): void {
    this.#closed = true;
    // Never to be written: scratch segments go back.
    for (const release of this.#scratch.values()) release();
    this.#scratch.clear();
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#stageLength = 0;
  }

  #append(bytes: Uint8Array): void {
    if (bytes.length >= DIRECT_BYTES) {
      this.#seal();
      if (!this.#owned.has(bytes.buffer)) this.#borrowed++;
      this.#queue.push(bytes);
      this.#queuedBytes += bytes.length;
      return;
    }
    this.#reserve(bytes.length);
    this.#stage.set(bytes, this.#stageLength);
    this.#stageLength += bytes.length;
  }

  #reserve(bytes: number): void {
    if (this.#stageLength + bytes <= this.#stage.length) return;
    this.#seal();
    // A full stage goes out now, not at the end of the tick: a caller looping
    // over many sends keeps the peer busy meanwhile instead of stop-and-go.
    if (!this.#blocked) this.flush();
    if (bytes > this.#stage.length) this.#newStage(bytes);
  }

  /** Moves staged bytes to the queue (keeping order with direct payloads). */
  #seal(): void {
    if (this.#stageLength === 0) return;
    this.#queue.push(this.#stage.subarray(0, this.#stageLength));
    this.#queuedBytes += this.#stageLength;
    this.#newStage();
  }

  #newStage(size = STAGE_BYTES): void {
    this.#stage = new Uint8Array(Math.max(size, STAGE_BYTES));
    this.#owned.add(this.#stage.buffer);
    this.#stageView = new DataView(this.#stage.buffer);
    this.#stageLength = 0;
  }

  #schedule(): void {
    if (this.#scheduled || this.#blocked) return;
    this.#scheduled = true;
    // Everything sent in this tick leaves in one write (coalesced small messages went 3x
    // faster than one write each, TCP_NODELAY being on by default in Bun). Under
    // load (a write less than BUSY_MS ago) wait for the next turn of the event
    // loop instead, so that what the next events send joins the same write.
    if (performance.now() - this.#lastFlush < BUSY_MS) setImmediate(this.#flushLater);
    else queueMicrotask(this.#flushLater);
  }

  #lastFlush = 0;
}

export interface FrameLimits {
  /** Largest message body accepted (payloads excluded). */
  maxBodyBytes: number;
  /** Whether raw payloads may follow a frame (not before the handshake). */
  allowPayloads: boolean;
}

/** Where a payload lands: an ArrayBuffer by default, a SharedArrayBuffer on workers. */
export type PayloadAllocator = (bytes: number) => Uint8Array;

/** Large payloads are copied into a warm pooled segment where one is free (see receiveTarget), others into fresh memory. */
export const allocateArrayBuffer: PayloadAllocator = (bytes) => receiveTarget(bytes) ?? new Uint8Array(bytes);

type ReadState =
  | { step: "header" }
  | { step: "body"; kind: number; into: Uint8Array; filled: number }
  | { step: "payloads"; body: Uint8Array; sizes: number[]; payloads: Uint8Array[]; filled: number; shared: (number | undefined)[] }
  | { step: "discard"; body: Uint8Array; total: number; paths: Uint8Array[]; shared: (number | undefined)[]; index: number; sizes: number[]; filled: number };

/** Raw payloads of a frame that did not fit the receiver's memory budget: skipped, not stored. */
export interface RejectedPayloads {
  bytes: number;
  /** Shared-memory segments of the skipped payloads (to remove). */
  segments: string[];
}

/**
 * For each payload of a frame, its size when it is in a shared-memory segment
 * (the payload bytes are then the segment's path field), else undefined.
 */
export type SharedSizes = (number | undefined)[] | undefined;

/** The path written in a shared payload's path field. */
export function readPathField(field: Uint8Array): string {
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}

/**
 * Turns socket chunks (at most 512 KiB each, fresh every time: Bun cannot read
 * into a buffer of ours) back into frames. Bodies that sit whole inside one chunk are decoded in place;
 * larger ones are assembled in one buffer sized from the header.
 */
type FrameCallback = (body: Uint8Array, payloads: Uint8Array[], rejected?: RejectedPayloads, shared?: SharedSizes) => void;

export class FrameReader {
  #onFrame: FrameCallback;
  #state: ReadState = { step: "header" };
  #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerFilled = 0;
  limits: FrameLimits;
  allocate: PayloadAllocator = allocateArrayBuffer;
  /** Asked before a frame's payloads are allocated: false skips them (the frame arrives as rejected). */
  admit: ((bytes: number) => boolean) | undefined;

  constructor(limits: FrameLimits, onFrame: FrameCallback) {
    this.limits = limits;
    this.#onFrame = onFrame;
  }

  /** Feeds one chunk; throws ProtocolError on a frame that breaks the rules. */
  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      const state = this.#state;
      if (state.step === "header") {
        if (this.#headerFilled === 0 && chunk.length - at >= FRAME_HEADER_BYTES) {
          // Read in place (no DataView per frame: this runs for every message).
          const length = (chunk[at]! | (chunk[at + 1]! << 8) | (chunk[at + 2]! << 16)) + chunk[at + 3]! * 0x1000000;
          const kind = chunk[at + 4]!;
          at += FRAME_HEADER_BYTES;
          this.#checkHeader(length, kind);
          if (chunk.length - at >= length) {
            // Common case: the whole body is in this chunk; no copy.
            this.#onBody(kind, chunk.subarray(at, at + length));
            at += length;
          } else {
            this.#state = { step: "body", kind, into: new Uint8Array(length), filled: 0 };
          }
          continue;
        }
        const take = Math.min(FRAME_HEADER_BYTES - this.#headerFilled, chunk.length - at);
        this.#header.set(chunk.subarray(at, at + take), this.#headerFilled);
        this.#headerFilled += take;
        at += take;
        if (this.#headerFilled === FRAME_HEADER_BYTES) {
          this.#headerFilled = 0;
          const view = new DataView(this.#header.buffer);
          const length = view.getUint32(0, true);
          const kind = view.getUint8(4);
          this.#checkHeader(length, kind);
          if (length === 0) this.#onBody(kind, new Uint8Array(0));
          else this.#state = { step: "body", kind, into: new Uint8Array(length), filled: 0 };
        }
      } else if (state.step === "body") {
        const take = Math.min(state.into.length - state.filled, chunk.length - at);
        state.into.set(chunk.subarray(at, at + take), state.filled);
        state.filled += take;
        at += take;
        if (state.filled === state.into.length) {
          this.#state = { step: "header" };
          this.#onBody(state.kind, state.into);
        }
      } else if (state.step === "discard") {
        // Skipped, except the path fields of shared payloads: those segments must still be removed.
        const size = state.sizes[state.index]!;
        const take = Math.min(size - state.filled, chunk.length - at);
        if (state.shared[state.index] !== undefined) state.paths[state.index]!.set(chunk.subarray(at, at + take), state.filled);
        state.filled += take;
        at += take;
        if (state.filled === size) {
          state.index++;
          state.filled = 0;
          this.#skipEmpty(state);
        }
      } else {
        const target = state.payloads[state.payloads.length - 1]!;
        const take = Math.min(target.length - state.filled, chunk.length - at);
        target.set(chunk.subarray(at, at + take), state.filled);
        state.filled += take;
        at += take;
        if (state.filled === target.length) this.#nextPayload(state);
      }
    }
  }

  #checkHeader(length: number, kind: number): void {
    if (kind !== FrameKind.Message && kind !== FrameKind.MessageWithPayloads) {
      throw new ProtocolError(`unknown frame kind ${kind}`);
    }
    if (kind === FrameKind.MessageWithPayloads && !this.limits.allowPayloads) {
      throw new ProtocolError("raw payloads are not allowed before the handshake completes");
    }
    if (length > this.limits.maxBodyBytes) {
      throw new ProtocolError(`frame body of ${length} bytes exceeds the limit of ${this.limits.maxBodyBytes} bytes`);
    }
  }

  #onBody(kind: number, body: Uint8Array): void {
    if (kind === FrameKind.Message) return this.#onFrame(body, []);
    if (body.length < 2) throw new ProtocolError("payload frame too short for its payload count");
    const view = new DataView(body.buffer, body.byteOffset, body.length);
    const count = view.getUint16(0, true);
    if (body.length < 2 + 8 * count) throw new ProtocolError(`payload frame too short for ${count} payload sizes`);
    const sizes: number[] = [];
    const shared: (number | undefined)[] = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      let size = view.getBigUint64(2 + 8 * i, true);
      const isShared = (size & SHARED_PAYLOAD_FLAG) !== 0n;
      size &= ~SHARED_PAYLOAD_FLAG;
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(`payload size ${size} is not a valid size`);
      total += Number(size);
      // A shared payload's bytes on the socket are its path field; its memory comes from the segment.
      sizes.push(isShared ? SHM_PATH_FIELD : Number(size));
      shared.push(isShared ? Number(size) : undefined);
    }
    if (total > 0 && this.admit && !this.admit(total)) {
      const paths = shared.map((size) => new Uint8Array(size === undefined ? 0 : SHM_PATH_FIELD));
      const discard = { step: "discard" as const, body: body.subarray(2 + 8 * count), total, paths, shared, index: 0, sizes, filled: 0 };
      this.#state = discard;
      this.#skipEmpty(discard);
      return;
    }
    const state = { step: "payloads" as const, body: body.subarray(2 + 8 * count), sizes, payloads: [] as Uint8Array[], filled: 0, shared };
    this.#nextPayload(state);
  }

  #nextPayload(state: Extract<ReadState, { step: "payloads" }>): void {
    // Zero-length payloads complete at once; skip over them.
    while (state.payloads.length < state.sizes.length) {
      const size = state.sizes[state.payloads.length]!;
      const isPath = state.shared[state.payloads.length] !== undefined;
      state.payloads.push(size === 0 ? new Uint8Array(0) : isPath ? new Uint8Array(size) : this.allocate(size));
      state.filled = 0;
      if (size > 0) {
        this.#state = state;
        return;
      }
    }
    this.#state = { step: "header" };
    this.#onFrame(state.body, state.payloads, undefined, state.shared.some((size) => size !== undefined) ? state.shared : undefined);
  }

  /** Moves past empty payloads of a skipped frame; delivers the frame once all are skipped. */
  #skipEmpty(state: Extract<ReadState, { step: "discard" }>): void {
    while (state.index < state.sizes.length && state.sizes[state.index] === 0) state.index++;
    if (state.index < state.sizes.length) return;
    this.#state = { step: "header" };
    const paths = state.paths.filter((_, i) => state.shared[i] !== undefined).map(readPathField);
    this.#onFrame(state.body, [], { bytes: state.total, segments: paths });
  }
}
