/**
 * The sending half of framing (see framing.ts): frames queued, coalesced into
 * large writes, and written as the socket accepts them.
 */
import { copyBytes } from "../_util/copy-bytes.ts";
import { ProtocolError } from "../errors.ts";
import { DeflatingPayload } from "./compression.ts";
import { COMPRESSED_PAYLOAD_FLAG, FRAME_HEADER_BYTES, FrameKind, SHARED_PAYLOAD_FLAG } from "./protocol.ts";
import { scratchCopy, SHM_PATH_FIELD } from "./shared-memory/index.ts";

/** A payload that the sender put in a shared-memory segment: only its path crosses the socket. */
export interface SharedPayload {
  path: string;
  size: number;
}

export type OutgoingPayload = Uint8Array | SharedPayload | DeflatingPayload;

/** What a payload puts on the socket: its bytes, or a compressed payload that makes them as they are written. */
function wireBytes(payload: OutgoingPayload): Uint8Array | DeflatingPayload {
  if (payload instanceof Uint8Array || payload instanceof DeflatingPayload) return payload;
  return pathField(payload.path);
}

function pathField(path: string): Uint8Array {
  const field = new Uint8Array(SHM_PATH_FIELD);
  const { written } = new TextEncoder().encodeInto(path, field);
  if (written !== path.length || written === SHM_PATH_FIELD) throw new ProtocolError(`shared segment path too long: ${path}`);
  return field;
}

/** A message body that writes itself (exactly the length it was sized to) at `at` of `target`. */
export interface BodyWriter {
  encodeInto(target: Uint8Array, at: number): void;
}

/** Something that takes bytes (all of `data`, or `byteLength` of it from `byteOffset`) and says how many it took (a Bun socket). */
export interface ByteSink {
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
}

/** Small writes are gathered in a staging buffer and sent in one syscall. */
const STAGE_BYTES = 64 * 1024;
/**
 * A writer that wrote less than this many milliseconds ago is busy: it
 * coalesces over a loop turn. Below a round trip (a call and its reply take
 * ~30 us here): a writer that answers each reply with one message writes it
 * in the same turn (waiting a loop turn cost 1-2 us of every round trip).
 */
const BUSY_MS = 0.02;
/** Payloads at least this big are written from their own memory, not staged. */
const DIRECT_BYTES = 32 * 1024;
/**
 * Source bytes of compressed payloads made into blocks by one flush: past
 * this, the rest waits for the next turn of the event loop (timers, other
 * links, heartbeats go first), ~2-16 ms of codec work here.
 */
const DEFLATE_PER_FLUSH = 4 * 2 ** 20;

/**
 * Queues frames and writes them when the socket accepts them. Bun's
 * `socket.write` returns how many bytes the kernel accepted and buffers
 * nothing (a 64 MiB write may take 4 MB): the unsent tail stays here until
 * `drain`, or until a stage fills (see #reserve), whichever comes first.
 */
export class FrameWriter {
  #sink: ByteSink;
  /** What is to be written, in order: bytes, and compressed payloads that make their bytes when they reach the head. */
  #queue: (Uint8Array | DeflatingPayload)[] = [];
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
    this.#stages.add(this.#stage.buffer);
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
        else if ("path" in payload) view.setBigUint64(at, BigInt(payload.size) | SHARED_PAYLOAD_FLAG, true);
        else view.setBigUint64(at, BigInt(payload.size) | COMPRESSED_PAYLOAD_FLAG, true);
        at += 8;
      }
    }
    this.#stageLength = at;
    this.#append(body);
    let borrowed = false;
    for (let i = 0; i < count; i++) {
      const payload = payloads![i]!;
      borrowed ||= payload instanceof Uint8Array && payload.byteLength >= DIRECT_BYTES;
      // A snapshot's compressed payload is copied before any block is made: its raw blocks are views of its source.
      if (snapshot && payload instanceof DeflatingPayload) this.#adoptSource(payload);
      this.#append(wireBytes(payload));
    }
    if (snapshot && borrowed) {
      this.flush();
      this.#adoptQueue();
    }
    this.#schedule();
  }

  /**
   * Queues a frame without payloads whose body (`length` bytes) `body` writes
   * straight into the stage: no array of its own (a call message). A long one
   * is written into memory of its own and queued as writeFrame would.
   */
  writeFrameWith(length: number, body: BodyWriter): void {
    if (this.#closed) return;
    if (length >= DIRECT_BYTES) {
      const bytes = new Uint8Array(length);
      body.encodeInto(bytes, 0);
      return this.writeFrame(bytes);
    }
    this.#reserve(FRAME_HEADER_BYTES + length);
    if (this.#closed) return; // the socket failed while the stage was flushed to make room
    const view = this.#stageView;
    const at = this.#stageLength;
    view.setUint32(at, length, true);
    view.setUint8(at + 4, FrameKind.Message);
    body.encodeInto(this.#stage, at + FRAME_HEADER_BYTES);
    this.#stageLength = at + FRAME_HEADER_BYTES + length;
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
      if (chunk instanceof DeflatingPayload || this.#owned.has(chunk.buffer)) continue;
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

  /** Copies a compressed payload's source (into a scratch segment where one is free), returned once its last block is made. */
  #adoptSource(payload: DeflatingPayload): void {
    if (this.#owned.has(payload.source.buffer)) return;
    const scratch = scratchCopy(payload.source);
    const copy = scratch?.copy ?? payload.source.slice();
    if (scratch) this.#deflatingScratch.set(payload, scratch.release);
    this.#owned.add(copy.buffer);
    payload.source = copy;
  }

  /** Queued chunks appended from a caller's memory since the last adoption. */
  #borrowed = 0;

  /** Scratch segments holding queued copies (one chunk each), released once written. */
  #scratch = new Map<ArrayBufferLike, () => void>();
  /** Scratch segments holding the sources of compressed payloads, released once their last block is made. */
  #deflatingScratch = new Map<DeflatingPayload, () => void>();

  #written(chunk: Uint8Array): void {
    if (this.#scratch.size === 0) return;
    const release = this.#scratch.get(chunk.buffer);
    if (!release) return;
    this.#scratch.delete(chunk.buffer);
    // Its segment goes back to the pool, which lends it again (a kept argument, another link's scratch): its
    // memory is no longer this writer's, and bytes queued from it later are the caller's, to be copied.
    this.#owned.delete(chunk.buffer);
    release();
  }

  /**
   * Told what a compressed payload threw while its blocks were made (its
   * memory detached since it was sent): the frame cannot be finished, and the
   * link must go. Without it, the writer closes.
   */
  onError: ((error: unknown) => void) | undefined;

  /** Writes what the socket takes now; the rest waits for `onDrain`, the next full stage, or (a compressed payload's next blocks) the next turn. */
  flush(): void {
    this.#flush();
    if (this.onEmpty && this.pendingBytes === 0) {
      const empty = this.onEmpty;
      this.onEmpty = undefined;
      empty();
    }
  }

  #flush(): void {
    this.#scheduled = false;
    this.#lastFlush = performance.now();
    if (this.#blocked || this.#closed) return;
    let deflated = 0;
    while (this.#queue.length > 0) {
      let chunk = this.#queue[0]!;
      if (chunk instanceof DeflatingPayload) {
        if (deflated >= DEFLATE_PER_FLUSH) return this.#continueNextTurn();
        const before = chunk.consumed;
        let bytes: Uint8Array | undefined;
        try {
          bytes = chunk.next();
        } catch (error) {
          this.close();
          return this.onError?.(error);
        }
        if (!bytes) {
          this.#queue.shift();
          const release = this.#deflatingScratch.get(chunk);
          if (release) {
            this.#deflatingScratch.delete(chunk);
            this.#owned.delete(chunk.source.buffer);
            release();
          }
          continue;
        }
        deflated += chunk.consumed - before;
        this.#queuedBytes += bytes.length - (chunk.consumed - before);
        this.#queue.unshift(bytes);
        chunk = bytes;
      }
      const written = this.#sink.write(chunk);
      if (written < 0) return this.close();
      this.#queuedBytes -= Math.max(written, 0);
      if (written < chunk.length) {
        this.#queue[0] = chunk.subarray(written);
        this.#blocked = true;
        return;
      }
      const done = this.#queue.shift() as Uint8Array;
      this.#written(done);
      this.#recycle(done.buffer);
    }
    const length = this.#stageLength;
    if (length === 0) return;
    // The stage's bytes by offset and length: no view made per write.
    const written = this.#sink.write(this.#stage, 0, length);
    if (written < 0) return this.close();
    if (written === length) {
      this.#stageLength = 0; // the kernel has it all: the stage can be reused
      return;
    }
    // The kernel took only the head of the stage: the queue keeps the unsent
    // tail (a view of this stage), so later frames go to a fresh stage.
    this.#queue.push(this.#stage.subarray(written, length));
    this.#queuedBytes += length - written;
    this.#newStage();
    this.#blocked = true;
  }

  /** Called once everything queued has been handed to the kernel (used when closing). */
  onEmpty: (() => void) | undefined;

  onDrain(): void {
    this.#blocked = false;
    this.flush();
  }

  close(): void {
    this.#closed = true;
    // Never to be written: scratch segments go back (their memory no longer this writer's).
    for (const [buffer, release] of this.#scratch) {
      this.#owned.delete(buffer);
      release();
    }
    this.#scratch.clear();
    for (const [payload, release] of this.#deflatingScratch) {
      this.#owned.delete(payload.source.buffer);
      release();
    }
    this.#deflatingScratch.clear();
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#stageLength = 0;
  }

  #append(bytes: Uint8Array | DeflatingPayload): void {
    if (bytes instanceof DeflatingPayload) {
      this.#seal();
      this.#queue.push(bytes);
      // Counted at its source's size until its blocks are made.
      this.#queuedBytes += bytes.size;
      return;
    }
    if (bytes.length >= DIRECT_BYTES) {
      this.#seal();
      if (!this.#owned.has(bytes.buffer)) this.#borrowed++;
      this.#queue.push(bytes);
      this.#queuedBytes += bytes.length;
      return;
    }
    this.#reserve(bytes.length);
    this.#stageLength = copyBytes(this.#stage, this.#stageLength, bytes);
  }

  #reserve(bytes: number): void {
    if (this.#stageLength + bytes <= this.#stage.length) return;
    this.#seal();
    // A full stage goes out now, not at the end of the tick: a caller looping
    // over many sends keeps the peer busy meanwhile instead of stop-and-go.
    // Also when the last write was cut short: the peer may have read since (a
    // Unix socket's buffer holds ~200 KiB, so a long loop of calls on one found
    // it full again and again; waiting for `drain` left the peer idle until the
    // loop ended).
    if (!this.#closed) {
      this.#blocked = false;
      this.flush();
    }
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
    this.#stageLength = 0;
    const spare = this.#spare;
    if (spare && size <= STAGE_BYTES) {
      this.#spare = undefined;
      this.#stage = spare;
      this.#stageView = this.#spareView!;
      return;
    }
    this.#stage = new Uint8Array(Math.max(size, STAGE_BYTES));
    this.#owned.add(this.#stage.buffer);
    if (this.#stage.length === STAGE_BYTES) this.#stages.add(this.#stage.buffer);
    this.#stageView = new DataView(this.#stage.buffer);
  }

  /**
   * Stages of the usual size that were sealed into the queue (before a large
   * payload, or with an unsent tail): each is in the queue once, so once that
   * entry is written the stage is free. One is kept as the next stage. A new
   * one per frame with a large payload was 64 KiB of fresh memory, zeroed and
   * faulted in, on every such call and result (see #seal).
   */
  #stages = new WeakSet<ArrayBufferLike>();
  #spare: Uint8Array<ArrayBuffer> | undefined;
  #spareView: DataView<ArrayBuffer> | undefined;

  #recycle(buffer: ArrayBufferLike): void {
    if (this.#spare || buffer === this.#stage.buffer || !this.#stages.has(buffer)) return;
    this.#spare = new Uint8Array(buffer as ArrayBuffer); // stages are ArrayBuffers (#newStage)
    this.#spareView = new DataView(buffer as ArrayBuffer);
  }

  /** A compressed payload's next blocks wait for the next turn of the loop. */
  #continueNextTurn(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(this.#flushLater);
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
