/**
 * Compression of large raw payloads between runtimes of different machines
 * (the `compression` option). Same-machine peers use /dev/shm and never
 * compress. A payload is sent compressed only when that saved enough; the
 * frame marks it (COMPRESSED_PAYLOAD_FLAG) so any receiver, whatever its own
 * setting, restores it.
 */
import { InvalidArgumentError, ProtocolError } from "../errors.ts";

/** What the option accepts; "lz4" is refused when options are resolved (Bun has no lz4 codec). */
export const COMPRESSION_KINDS = ["none", "zstd", "lz4"] as const;
export type CompressionKind = (typeof COMPRESSION_KINDS)[number];

/** A payload that crosses the socket compressed: `bytes` on the wire, `size` once restored. */
export interface CompressedPayload {
  bytes: Uint8Array;
  size: number;
}

/** Smaller payloads are not worth a codec call (a frame costs microseconds). */
export const COMPRESS_MIN_BYTES = 64 * 1024;
/** Sent compressed only when at least this fraction of the bytes was saved. */
const MIN_SAVING = 0.1;
/** Bytes of each sample taken before compressing a whole payload. */
const SAMPLE_BYTES = 16 * 1024;
/** Places sampled (start, ..., end): incompressible data costs four small codec calls, not a whole pass. */
const SAMPLES = 4;
/** zstd's fastest regular level: at GB/s links every level above it costs more than it saves. */
const LEVEL = 1;

let codec: "none" | "zstd" = "none";

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
 * The payload compressed when that pays, else the payload itself. Payloads
 * large enough are sampled first: compression goes ahead when any sample
 * compresses well (a mostly-zero array with a random head still pays).
 */
export function compressPayload(payload: Uint8Array): Uint8Array | CompressedPayload {
  if (codec === "none" || payload.byteLength < COMPRESS_MIN_BYTES) return payload;
  if (payload.byteLength >= 4 * SAMPLES * SAMPLE_BYTES) {
    const step = Math.floor((payload.byteLength - SAMPLE_BYTES) / (SAMPLES - 1));
    let pays = false;
    for (let i = 0; i < SAMPLES && !pays; i++) pays = samplePays(payload, i * step);
    if (!pays) return payload;
  }
  const bytes = Bun.zstdCompressSync(payload, { level: LEVEL });
  if (bytes.byteLength > payload.byteLength * (1 - MIN_SAVING)) return payload;
  return { bytes, size: payload.byteLength };
}

export function compressPayloads(payloads: Uint8Array[]): (Uint8Array | CompressedPayload)[] {
  return payloads.map(compressPayload);
}

/** A compressed payload restored into memory from `allocate` (the receiver's usual place for payloads). */
export function decompressPayload(wire: Uint8Array, size: number, allocate: (bytes: number) => Uint8Array): Uint8Array {
  let restored: Uint8Array;
  try {
    restored = Bun.zstdDecompressSync(wire);
  } catch (error) {
    throw new ProtocolError(`a compressed payload of ${wire.byteLength} bytes cannot be decompressed: ${(error as Error).message}`);
  }
  if (restored.byteLength !== size) throw new ProtocolError(`a compressed payload restored to ${restored.byteLength} bytes, not the ${size} its frame announced`);
  const target = allocate(size);
  target.set(restored);
  return target;
}
