/**
 * Compression of large raw payloads between runtimes of different machines
 * (the `compression` option). Same-machine peers use /dev/shm and never
 * compress. A payload worth compressing crosses as blocks of at most
 * BLOCK_BYTES, each compressed as it is written and restored as it arrives,
 * so neither side's event loop is held for more than a block at a time (a
 * whole 256 MiB payload took 1-2.5 s of one synchronous codec call on each
 * side: long enough for a worker's heartbeats to stop). The frame marks the
 * payload (COMPRESSED_PAYLOAD_FLAG on its size) so any receiver, whatever its
 * own setting, restores it.
 */
import { InvalidArgumentError, ProtocolError } from "../errors.ts";

/** What the option accepts; "lz4" is refused when options are resolved (Bun has no lz4 codec). */
export const COMPRESSION_KINDS = ["none", "zstd", "lz4"] as const;
export type CompressionKind = (typeof COMPRESSION_KINDS)[number];

/** Smaller payloads are not worth a codec call (a frame costs microseconds). */
export const COMPRESS_MIN_BYTES = 64 * 1024;
/** Sent compressed only when at least this fraction of the bytes was saved (a payload by its samples, a block by itself). */
const MIN_SAVING = 0.1;
/** Bytes of each sample taken before compressing a whole payload. */
const SAMPLE_BYTES = 16 * 1024;
/** Places sampled (start, ..., end): incompressible data costs four small codec calls, not a whole pass. */
const SAMPLES = 4;
/** zstd's fastest regular level: at GB/s links every level above it costs more than it saves. */
const LEVEL = 1;

/**
 * Bytes of a payload compressed (and restored) in one codec call: ~0.5-4 ms
 * each here, so a 256 MiB payload leaves the loop free between its 256 blocks.
 */
export const BLOCK_BYTES = 2 ** 20;
/**
 * Each block on the wire: an 8-byte header, u32 little-endian wire length
 * (RAW_BLOCK set: its bytes as they are) and u32 restored length, then its
 * bytes. A block that did not compress by MIN_SAVING is sent raw.
 */
export const BLOCK_HEADER_BYTES = 8;
const RAW_BLOCK = 0x80000000;
/** What a compressed block counts for, at least, toward a turn's work (see InflatingPayload.work). */
const MIN_BLOCK_WORK = 64 * 1024;

let codec: "none" | "zstd" = "none";

/** libzstd's decompression, which writes into memory of ours (Bun's zstd returns fresh memory to copy from). */
interface Libzstd {
  /** Restores `packed` into `target` from `at`, at most `capacity` bytes; how many, or a negative number on error. */
  decompressInto(target: Uint8Array, at: number, capacity: number, packed: Uint8Array): number;
}

let libzstd: Libzstd | null | undefined;

/**
 * Opened on first use, once per thread: a 256 MiB payload restored straight
 * into its place took half the time of Bun's zstd and a copy (fresh memory
 * for every block). Null where bun:ffi or libzstd is missing (Bun's zstd then).
 */
function openLibzstd(): Libzstd | null {
  if (process.platform !== "linux" || process.env.MOSAIC_LIBZSTD === "0") return null;
  try {
    const ffi = require("bun:ffi") as typeof import("bun:ffi");
    const { symbols } = ffi.dlopen("libzstd.so.1", {
      ZSTD_createDCtx: { args: [], returns: "ptr" },
      ZSTD_decompressDCtx: { args: ["ptr", "ptr", "usize", "ptr", "usize"], returns: "usize" },
      ZSTD_isError: { args: ["usize"], returns: "u32" },
    });
    // One context for the thread's life: ZSTD_decompress would make and free one per block.
    const context = symbols.ZSTD_createDCtx();
    if (!context) return null;
    return {
      decompressInto(target, at, capacity, packed) {
        const result = symbols.ZSTD_decompressDCtx(context, ffi.ptr(target, at), capacity, ffi.ptr(packed), packed.byteLength);
        return symbols.ZSTD_isError(result) ? -1 : Number(result);
      },
    };
  } catch {
    return null;
  }
}

/** Sets this process's compression for payloads to other machines (a runtime's `compression` option). */
export function setCompression(kind: CompressionKind): void {
  if (kind === "lz4") throw new InvalidArgumentError(LZ4_REFUSAL);
  codec = kind;
}

/** Why "lz4" is refused, for the option's check as well. */
export const LZ4_REFUSAL =
  'option compression "lz4" is not supported: Bun has no lz4 codec built in, and no maintained pure-JS or wasm one beats zstd here; use "zstd" or "none"';

export function compressionEnabled(): boolean {
  return codec !== "none";
}

/** Whether a sample at `at` compresses by at least MIN_SAVING. */
function samplePays(payload: Uint8Array, at: number): boolean {
  const sample = payload.subarray(at, at + SAMPLE_BYTES);
  return Bun.zstdCompressSync(sample, { level: LEVEL }).byteLength <= sample.byteLength * (1 - MIN_SAVING);
}

/**
 * A payload that crosses the socket compressed, block by block: the frame
 * writer asks for its wire bytes (`next`) as the socket takes them.
 * `source` is read as the blocks are made (the writer copies it first for a
 * snapshot send).
 */
export class DeflatingPayload {
  /** Bytes it restores to. */
  readonly size: number;
  source: Uint8Array;
  /** Source bytes handed out so far (as blocks, or a raw block's bytes). */
  consumed = 0;
  /** Where the next block begins in the source. */
  #next = 0;
  /** A raw block's bytes, due right after its header. */
  #rawBlock: Uint8Array | undefined;

  constructor(source: Uint8Array) {
    this.source = source;
    this.size = source.byteLength;
  }

  /**
   * The next bytes for the wire (a block, or a raw block's header and then
   * its bytes: a view of the source); undefined once all went. Throws if the
   * source no longer holds its bytes (detached or shrunk since it was sent).
   */
  next(): Uint8Array | undefined {
    const raw = this.#rawBlock;
    if (raw) {
      this.#rawBlock = undefined;
      this.consumed += raw.byteLength;
      return raw;
    }
    if (this.#next >= this.size) return undefined;
    let block: Uint8Array | undefined;
    try {
      block = this.source.subarray(this.#next, Math.min(this.#next + BLOCK_BYTES, this.size));
    } catch {} // a view of a detached buffer
    if (block?.byteLength !== Math.min(BLOCK_BYTES, this.size - this.#next)) {
      throw new ProtocolError(`a payload of ${this.size} bytes holds ${this.source.byteLength} now: its memory was detached or shrunk while it was sent`);
    }
    this.#next += block.byteLength;
    const packed = Bun.zstdCompressSync(block, { level: LEVEL });
    if (packed.byteLength > block.byteLength * (1 - MIN_SAVING)) {
      this.#rawBlock = block;
      return blockHeader(new Uint8Array(BLOCK_HEADER_BYTES), block.byteLength | RAW_BLOCK, block.byteLength);
    }
    this.consumed += block.byteLength;
    const wire = new Uint8Array(BLOCK_HEADER_BYTES + packed.byteLength);
    blockHeader(wire, packed.byteLength, block.byteLength);
    wire.set(packed, BLOCK_HEADER_BYTES);
    return wire;
  }
}

/** The content size a single zstd frame declares in its header (RFC 8878, 3.1.1.1), or undefined when it declares none or is no zstd frame. */
export function frameContentSize(frame: Uint8Array): number | undefined {
  if (frame.byteLength < 6) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.getUint32(0, true) !== 0xfd2fb528) return undefined;
  const descriptor = frame[4]!;
  const sizeFlag = descriptor >> 6;
  const singleSegment = (descriptor & 0x20) !== 0;
  const dictionaryBytes = [0, 1, 2, 4][descriptor & 3]!;
  const at = 5 + (singleSegment ? 0 : 1) + dictionaryBytes;
  const sizeBytes = sizeFlag === 0 ? (singleSegment ? 1 : 0) : 1 << sizeFlag;
  if (sizeBytes === 0 || frame.byteLength < at + sizeBytes) return undefined;
  if (sizeBytes === 1) return view.getUint8(at);
  if (sizeBytes === 2) return view.getUint16(at, true) + 256;
  if (sizeBytes === 4) return view.getUint32(at, true);
  return Number(view.getBigUint64(at, true));
}

function blockHeader(target: Uint8Array, wire: number, restored: number): Uint8Array {
  const view = new DataView(target.buffer, target.byteOffset, BLOCK_HEADER_BYTES);
  view.setUint32(0, wire >>> 0, true);
  view.setUint32(4, restored, true);
  return target;
}

/**
 * The payload to compress as it is sent when that pays, else the payload
 * itself. Payloads large enough are sampled first: compression goes ahead
 * when any sample compresses well (a mostly-zero array with a random head
 * still pays); each block is then sent raw if it did not.
 */
export function compressPayload(payload: Uint8Array): Uint8Array | DeflatingPayload {
  if (codec === "none" || payload.byteLength < COMPRESS_MIN_BYTES) return payload;
  const step = Math.floor((payload.byteLength - SAMPLE_BYTES) / (SAMPLES - 1));
  let pays = false;
  for (let i = 0; i < SAMPLES && !pays; i++) pays = samplePays(payload, i * step);
  return pays ? new DeflatingPayload(payload) : payload;
}

export function compressPayloads(payloads: Uint8Array[]): (Uint8Array | DeflatingPayload)[] {
  return payloads.map(compressPayload);
}

/**
 * Restores a compressed payload into `target` as its blocks arrive (`push`),
 * or, without a target, skips it (a frame the memory budget refused). Each
 * block is checked against what its header and the frame announced.
 */
export class InflatingPayload {
  /** Bytes the socket carried for it so far. */
  wireBytes = 0;
  readonly #target: Uint8Array | undefined;
  readonly #size: number;
  #restored = 0;
  #header = new Uint8Array(BLOCK_HEADER_BYTES);
  #headerFilled = 0;
  /** The block being read: its wire length, restored length, whether raw; its bytes so far when compressed and split over chunks. */
  #block: { wire: number; restored: number; raw: boolean; bytes: Uint8Array | undefined; filled: number } | undefined;
  /** Told the bytes of each block restored by the codec (fresh memory, for the reader's collections). */
  readonly #onRestored: (bytes: number) => void;

  constructor(size: number, target: Uint8Array | undefined, onRestored: (bytes: number) => void = () => {}) {
    this.#size = size;
    this.#target = target;
    this.#onRestored = onRestored;
  }

  get done(): boolean {
    return this.#restored === this.#size && this.#block === undefined;
  }

  /** Bytes restored by the codec, counted toward `push`'s limit (the caller sets it before each push: its turn's work so far). */
  work = 0;

  /**
   * Reads from `chunk` at `at` until the payload is whole, the chunk ends, or
   * `work` reached `limit`; returns where it stopped.
   */
  push(chunk: Uint8Array, at: number, limit = Infinity): number {
    while (at < chunk.length && !this.done && this.work < limit) {
      const block = this.#block;
      if (!block) {
        const take = Math.min(BLOCK_HEADER_BYTES - this.#headerFilled, chunk.length - at);
        this.#header.set(chunk.subarray(at, at + take), this.#headerFilled);
        this.#headerFilled += take;
        at += take;
        this.wireBytes += take;
        if (this.#headerFilled === BLOCK_HEADER_BYTES) this.#startBlock();
        continue;
      }
      const take = Math.min(block.wire - block.filled, chunk.length - at);
      this.wireBytes += take;
      if (block.raw) {
        this.#target?.set(chunk.subarray(at, at + take), this.#restored + block.filled);
        block.filled += take;
        at += take;
        if (block.filled === block.wire) this.#endBlock(block.restored);
        continue;
      }
      if (!this.#target) {
        block.filled += take;
        at += take;
        if (block.filled === block.wire) this.#endBlock(block.restored);
        continue;
      }
      if (block.filled === 0 && take === block.wire) {
        // Whole in this chunk: restored from where it lies.
        this.#inflate(chunk.subarray(at, at + take), block.restored);
        at += take;
        continue;
      }
      block.bytes ??= new Uint8Array(block.wire);
      block.bytes.set(chunk.subarray(at, at + take), block.filled);
      block.filled += take;
      at += take;
      if (block.filled === block.wire) this.#inflate(block.bytes, block.restored);
    }
    return at;
  }

  #startBlock(): void {
    this.#headerFilled = 0;
    const view = new DataView(this.#header.buffer);
    const word = view.getUint32(0, true);
    const restored = view.getUint32(4, true);
    const raw = (word & RAW_BLOCK) !== 0;
    const wire = word & ~RAW_BLOCK;
    const left = this.#size - this.#restored;
    if (restored === 0 || restored > BLOCK_BYTES || restored > left || wire === 0 || wire > BLOCK_BYTES || (raw && wire !== restored)) {
      throw new ProtocolError(`a compressed payload's block of ${wire} bytes restoring to ${restored} does not fit its frame (${left} of ${this.#size} bytes left, blocks of at most ${BLOCK_BYTES})`);
    }
    this.#block = { wire, restored, raw, bytes: undefined, filled: 0 };
  }

  #inflate(packed: Uint8Array, restored: number): void {
    const native = libzstd === undefined ? (libzstd = openLibzstd()) : libzstd;
    if (native) {
      // At most the block's announced size: a block that holds more fails as an error, not an overrun.
      const length = native.decompressInto(this.#target!, this.#restored, restored, packed);
      if (length < 0) throw new ProtocolError(`a compressed block of ${packed.byteLength} bytes cannot be decompressed into the ${restored} its header announced`);
      if (length !== restored) throw new ProtocolError(`a compressed block restored to ${length} bytes, not the ${restored} its header announced`);
    } else {
      // Bun's zstd restores all a frame holds before its size can be checked: the frame must say, and say the block's size.
      const declared = frameContentSize(packed);
      if (declared !== restored) {
        throw new ProtocolError(`a compressed block's zstd frame declares ${declared === undefined ? "no content size" : `${declared} bytes`}, not the ${restored} its header announced`);
      }
      let bytes: Uint8Array;
      try {
        bytes = Bun.zstdDecompressSync(packed);
      } catch (error) {
        throw new ProtocolError(`a compressed block of ${packed.byteLength} bytes cannot be decompressed: ${(error as Error).message}`);
      }
      if (bytes.byteLength !== restored) throw new ProtocolError(`a compressed block restored to ${bytes.byteLength} bytes, not the ${restored} its header announced`);
      this.#target!.set(bytes, this.#restored);
      // Fresh memory, dead once copied: counted toward the reader's next collection.
      this.#onRestored(restored);
    }
    // Each block counts at least MIN_BLOCK_WORK: a stream of tiny blocks costs a codec call each.
    this.work += Math.max(restored, MIN_BLOCK_WORK);
    this.#endBlock(restored);
  }

  #endBlock(restored: number): void {
    this.#restored += restored;
    this.#block = undefined;
  }
}
