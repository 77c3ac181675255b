/**
 * The receiving half of framing (see framing.ts): socket chunks back into
 * frames, raw payloads copied once into their final memory.
 */
import { ProtocolError } from "../errors.ts";
import { BLOCK_BYTES, InflatingPayload } from "./compression.ts";
import { COMPRESSED_PAYLOAD_FLAG, FRAME_HEADER_BYTES, FrameKind, SHARED_PAYLOAD_FLAG } from "./protocol.ts";
import { receiveTarget, SHM_PATH_FIELD } from "./shared-memory/index.ts";

export interface FrameLimits {
  /** Largest message body accepted (payloads excluded). */
  maxBodyBytes: number;
  /** Whether raw payloads may follow a frame (not before the handshake). */
  allowPayloads: boolean;
}

/**
 * Socket bytes between two asks for a young collection. Each chunk Bun hands
 * over is a fresh allocation, dead once copied out; without a collection
 * during a large transfer, none is freed until it ends, so every chunk takes
 * fresh pages (65k page faults per 256 MiB, 4-20 us each on this VM: half a
 * receiver's CPU). Collected every 8 MiB, the next chunks reuse the memory of
 * the last: ~7k faults per 256 MiB, ~30 eden collections of ~0.04 ms each
 * (bench/cluster.bench.ts prints the receiving worker's faults per move).
 */
const COLLECT_EVERY_BYTES = 8 * 2 ** 20;
/** Socket bytes this thread's readers took since the last ask (per thread: each has its own heap). */
let receivedSinceCollect = 0;

/**
 * Bytes of compressed payloads one reader restores from a socket chunk before
 * the rest of it waits for the next turn of the event loop (~5-30 ms of codec
 * work here): a chunk of compressed bytes can hold 100 MiB or more of smooth
 * data; timers (heartbeats) and other links go first.
 */
const INFLATE_PER_TURN = 8 * 2 ** 20;

/** Where a payload lands: an ArrayBuffer by default, a SharedArrayBuffer on workers. */
export type PayloadAllocator = (bytes: number) => Uint8Array;

/** Large payloads are copied into a warm pooled segment where one is free (see receiveTarget), others into fresh memory. */
export const allocateArrayBuffer: PayloadAllocator = (bytes) => receiveTarget(bytes) ?? new Uint8Array(bytes);

type ReadState =
  | { step: "header" }
  | { step: "body"; kind: number; into: Uint8Array; filled: number }
  | PayloadsState
  | { step: "discard"; body: Uint8Array; total: number; paths: Uint8Array[]; shared: (number | undefined)[]; compressed: Compressed; index: number; sizes: number[]; filled: number; inflating: InflatingPayload | undefined };

interface PayloadsState {
  step: "payloads";
  body: Uint8Array;
  sizes: number[];
  payloads: Uint8Array[];
  filled: number;
  shared: (number | undefined)[];
  compressed: Compressed;
  /** The compressed payload being restored (the last of `payloads`). */
  inflating: InflatingPayload | undefined;
  /** Socket bytes of the compressed payloads read so far. */
  compressedWire: number;
}

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

/** For each payload, whether it comes compressed (in blocks, see compression.ts); undefined when none does. */
type Compressed = boolean[] | undefined;

/** Codec output between two asks for a young collection: each block restored is a fresh allocation, dead once copied. */
function restoredFresh(bytes: number): void {
  receivedSinceCollect += bytes;
}

/** `socketBytes`: bytes the socket carried for the payloads not in shared memory, given only when some came compressed. */
type FrameCallback = (body: Uint8Array, payloads: Uint8Array[], rejected?: RejectedPayloads, shared?: SharedSizes, socketBytes?: number) => void;

/**
 * Turns socket chunks (at most 512 KiB each, fresh every time: Bun reads into no buffer of ours)
 * back into frames. Bodies that sit whole inside one chunk are decoded in place;
 * larger ones are assembled in one buffer sized from the header.
 */
export class FrameReader {
  #onFrame: FrameCallback;
  #state: ReadState = { step: "header" };
  #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerFilled = 0;
  limits: FrameLimits;
  allocate: PayloadAllocator = allocateArrayBuffer;
  /** Asked before a frame's payloads are allocated: false skips them (the frame arrives as rejected). */
  admit: ((bytes: number) => boolean) | undefined;
  /**
   * Offered each frame without payloads first, as bytes `start` to `end` of
   * its chunk (or of the buffer it was assembled in), before any view of it is
   * made; true: it was handled, false: it comes to the frame callback as
   * usual. A chunk is a typed array in the collector's heap: its first
   * subarray() moves it into an ArrayBuffer of its own (~0.3 us, more with
   * cold caches), on every message of a round trip.
   */
  readInPlace: ((chunk: Uint8Array, start: number, end: number) => boolean) | undefined;

  /**
   * Told what a later turn's reading threw (the rest of a chunk left for it,
   * see INFLATE_PER_TURN); without it, that is thrown from the timer.
   */
  onError: ((error: unknown) => void) | undefined;
  /** Socket bytes left for a later turn, in order; new chunks join them. */
  #backlog: Uint8Array[] | undefined;
  /** Codec work done in this turn. */
  #work = 0;

  constructor(limits: FrameLimits, onFrame: FrameCallback) {
    this.limits = limits;
    this.#onFrame = onFrame;
  }

  /** Feeds one chunk; throws ProtocolError on a frame that breaks the rules. */
  push(chunk: Uint8Array): void {
    receivedSinceCollect += chunk.length;
    if (receivedSinceCollect >= COLLECT_EVERY_BYTES) {
      receivedSinceCollect = 0;
      Bun.gc(false);
    }
    if (this.#backlog) {
      this.#backlog.push(chunk);
      return;
    }
    if (this.#stopped) return;
    this.#work = 0;
    this.#read(chunk);
  }

  #stopped = false;

  /** Reads nothing more: what waits for a later turn is dropped, and later chunks are ignored (the link closed). */
  stop(): void {
    this.#stopped = true;
    this.#backlog = undefined;
  }

  /** Whether bytes wait for a later turn. */
  get paused(): boolean {
    return this.#backlog !== undefined;
  }

  #resume = (): void => {
    const backlog = this.#backlog;
    if (!backlog) return; // stopped meanwhile
    this.#backlog = undefined;
    this.#work = 0;
    try {
      for (let i = 0; i < backlog.length; i++) {
        this.#read(backlog[i]!);
        if (this.#backlog) {
          // Paused again: the chunks after this one wait behind what it left.
          (this.#backlog as Uint8Array[]).push(...backlog.slice(i + 1));
          return;
        }
      }
    } catch (error) {
      this.#backlog = undefined;
      if (!this.onError) throw error;
      this.onError(error);
    }
  };

  /** Leaves the chunk's bytes from `at` for the next turn. */
  #pause(chunk: Uint8Array, at: number): void {
    this.#backlog = [chunk.subarray(at)];
    setImmediate(this.#resume);
  }

  #read(chunk: Uint8Array): void {
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
            if (kind === FrameKind.Message && this.readInPlace?.(chunk, at, at + length)) {
              at += length;
              continue;
            }
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
          // Assembled from several chunks: offered as a whole buffer of its own.
          if (state.kind === FrameKind.Message && this.readInPlace?.(state.into, 0, state.into.length)) continue;
          this.#onBody(state.kind, state.into);
        }
      } else if (state.step === "discard") {
        if (state.inflating) {
          // A compressed payload skipped block by block: its length on the wire is known only from its blocks.
          at = state.inflating.push(chunk, at);
          if (state.inflating.done) {
            state.inflating = undefined;
            state.index++;
            state.filled = 0;
            this.#skipEmpty(state);
          }
          continue;
        }
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
      } else if (state.inflating) {
        const inflating = state.inflating;
        inflating.work = this.#work;
        at = inflating.push(chunk, at, INFLATE_PER_TURN);
        this.#work = inflating.work;
        if (inflating.done) {
          state.compressedWire += inflating.wireBytes;
          state.inflating = undefined;
          this.#nextPayload(state);
        }
        if (this.#work >= INFLATE_PER_TURN && at < chunk.length) return this.#pause(chunk, at);
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
    const sizes: number[] = [];
    const shared: (number | undefined)[] = [];
    let compressed: Compressed;
    let total = 0;
    let peak = 0;
    let at = 2;
    const next = () => {
      if (body.length < at + 8) throw new ProtocolError(`payload frame too short for ${count} payload sizes`);
      const value = view.getBigUint64(at, true);
      at += 8;
      return value;
    };
    for (let i = 0; i < count; i++) {
      let size = next();
      const isShared = (size & SHARED_PAYLOAD_FLAG) !== 0n;
      const isCompressed = (size & COMPRESSED_PAYLOAD_FLAG) !== 0n;
      size &= ~(SHARED_PAYLOAD_FLAG | COMPRESSED_PAYLOAD_FLAG);
      if (size > BigInt(Number.MAX_SAFE_INTEGER) || (isShared && isCompressed)) {
        throw new ProtocolError(`payload size ${size} is not a valid size`);
      }
      // What the receiver's memory must take; a compressed payload (its restored size here) needs a block more
      // while a block is restored: its bytes as they came, and the codec's output before it goes where payloads go.
      total += Number(size);
      peak += isCompressed ? Number(size) + 2 * BLOCK_BYTES : Number(size);
      // A shared payload's bytes on the socket are its path field; its memory comes from the segment.
      sizes.push(isShared ? SHM_PATH_FIELD : Number(size));
      shared.push(isShared ? Number(size) : undefined);
      if (isCompressed) (compressed ??= new Array(count).fill(false))[i] = true;
    }
    if (total > 0 && this.admit && !this.admit(peak)) {
      const paths = shared.map((size) => new Uint8Array(size === undefined ? 0 : SHM_PATH_FIELD));
      const discard = { step: "discard" as const, body: body.subarray(at), total, paths, shared, compressed, index: 0, sizes, filled: 0, inflating: undefined };
      this.#state = discard;
      this.#skipEmpty(discard);
      return;
    }
    const state: PayloadsState = { step: "payloads", body: body.subarray(at), sizes, payloads: [], filled: 0, shared, compressed, inflating: undefined, compressedWire: 0 };
    this.#nextPayload(state);
  }

  #nextPayload(state: PayloadsState): void {
    // Zero-length payloads complete at once; skip over them.
    while (state.payloads.length < state.sizes.length) {
      const index = state.payloads.length;
      const size = state.sizes[index]!;
      // A path field takes plain memory; a compressed payload is restored block by block where payloads go.
      const target = size === 0 ? new Uint8Array(0) : state.shared[index] !== undefined ? new Uint8Array(size) : this.allocate(size);
      state.payloads.push(target);
      state.filled = 0;
      if (size > 0) {
        if (state.compressed?.[index]) state.inflating = new InflatingPayload(size, target, restoredFresh);
        this.#state = state;
        return;
      }
    }
    this.#state = { step: "header" };
    const shared = state.shared.some((size) => size !== undefined) ? state.shared : undefined;
    if (!state.compressed) return this.#onFrame(state.body, state.payloads, undefined, shared);
    let socketBytes = state.compressedWire;
    for (let i = 0; i < state.payloads.length; i++) if (state.shared[i] === undefined && !state.compressed[i]) socketBytes += state.sizes[i]!;
    this.#onFrame(state.body, state.payloads, undefined, shared, socketBytes);
  }

  /** Moves past empty payloads of a skipped frame; delivers the frame once all are skipped. */
  #skipEmpty(state: Extract<ReadState, { step: "discard" }>): void {
    while (state.index < state.sizes.length && state.sizes[state.index] === 0) state.index++;
    if (state.index < state.sizes.length) {
      if (state.compressed?.[state.index]) state.inflating = new InflatingPayload(state.sizes[state.index]!, undefined);
      return;
    }
    this.#state = { step: "header" };
    const paths = state.paths.filter((_, i) => state.shared[i] !== undefined).map(readPathField);
    this.#onFrame(state.body, [], { bytes: state.total, segments: paths });
  }
}
