import { afterEach, describe, expect, test } from "bun:test";
import { compressPayload, setCompression } from "../../src/comms/compression.ts";
import { FrameReader, FrameWriter } from "../../src/comms/framing.ts";
import { InvalidArgumentError } from "../../src/errors.ts";

const MiB = 2 ** 20;

/** Smooth, quantised samples (as a simulated field): zstd takes most of it away. */
function compressible(bytes: number): Uint8Array {
  const values = new Float32Array(bytes / 4);
  for (let i = 0; i < values.length; i++) values[i] = Math.round(Math.sin(i / 5000) * 1000) / 8;
  return new Uint8Array(values.buffer);
}

function random(bytes: number): Uint8Array {
  const array = new Uint8Array(bytes);
  for (let at = 0; at < bytes; at += 65536) crypto.getRandomValues(array.subarray(at, Math.min(at + 65536, bytes)));
  return array;
}

/** Everything written, as one byte string (the socket takes it all). */
class Sink {
  writes: Uint8Array[] = [];
  write(data: Uint8Array, byteOffset = 0, byteLength = data.length - byteOffset): number {
    this.writes.push(data.slice(byteOffset, byteOffset + byteLength));
    return byteLength;
  }
  get bytes(): Uint8Array {
    return Buffer.concat(this.writes);
  }
}

afterEach(() => setCompression("none"));

describe("compression of payloads between machines", () => {
  test("with zstd, a compressible payload is compressed; random bytes, small payloads and payloads with compression off are sent as they are", () => {
    const smooth = compressible(MiB);
    const noise = random(MiB);
    const small = compressible(32 * 1024);
    expect(compressPayload(smooth)).toBe(smooth);
    setCompression("zstd");
    const packed = compressPayload(smooth);
    expect(packed).not.toBeInstanceOf(Uint8Array);
    const { bytes, size } = packed as { bytes: Uint8Array; size: number };
    expect({ size, smaller: bytes.byteLength < smooth.byteLength / 10 }).toEqual({ size: MiB, smaller: true });
    expect(compressPayload(noise)).toBe(noise);
    expect(compressPayload(small)).toBe(small);
  });

  test("a payload whose samples are random but whose body compresses is compressed: one sample that pays is enough", () => {
    setCompression("zstd");
    const mixed = new Uint8Array(4 * MiB);
    mixed.set(random(64 * 1024), 0);
    expect(compressPayload(mixed)).not.toBeInstanceOf(Uint8Array);
  });

  test("compressed payloads cross the frame format marked, and come back intact into the reader's memory at any chunk boundary; the reader tells the bytes on the wire", () => {
    setCompression("zstd");
    const smooth = compressible(2 * MiB);
    const noise = random(256 * 1024);
    const tiny = Uint8Array.of(1, 2, 3);
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    writer.writeFrame(Uint8Array.of(9, 8, 7), [smooth, noise, tiny].map(compressPayload));
    writer.flush();
    const wire = sink.bytes;
    expect(wire.byteLength).toBeLessThan(smooth.byteLength / 10 + noise.byteLength + 1024);
    for (const chunk of [1000, 64 * 1024, 512 * 1024]) {
      const frames: { body: number[]; intact: boolean[]; socketBytes: number | undefined; allocated: number[]; admitted: number[] }[] = [];
      const allocated: number[] = [];
      const admitted: number[] = [];
      const reader = new FrameReader({ maxBodyBytes: 1024, allowPayloads: true }, (body, payloads, _rejected, _shared, socketBytes) => {
        const intact = [smooth, noise, tiny].map((expected, i) => Buffer.compare(Buffer.from(payloads[i]!), Buffer.from(expected)) === 0);
        frames.push({ body: [...body], intact, socketBytes, allocated, admitted });
      });
      reader.allocate = (bytes) => {
        allocated.push(bytes);
        return new Uint8Array(bytes);
      };
      reader.admit = (bytes) => {
        admitted.push(bytes);
        return true;
      };
      for (let at = 0; at < wire.length; at += chunk) reader.push(wire.subarray(at, at + chunk));
      const socketBytes = (compressPayload(smooth) as { bytes: Uint8Array }).bytes.byteLength + noise.byteLength + tiny.byteLength;
      // The budget is asked for the most the frame holds at once: a compressed payload as it came, restored by
      // zstd, and again in the allocator's memory (where it lands); the others once.
      const wireSmooth = socketBytes - noise.byteLength - tiny.byteLength;
      expect(frames).toEqual([
        {
          body: [9, 8, 7],
          intact: [true, true, true],
          socketBytes,
          allocated: [noise.byteLength, tiny.byteLength, smooth.byteLength],
          admitted: [2 * smooth.byteLength + wireSmooth + noise.byteLength + 3],
        },
      ]);
    }
  });

  test("a frame whose compressed bytes do not restore to the announced size is refused as a protocol error", () => {
    setCompression("zstd");
    const packed = compressPayload(compressible(MiB)) as { bytes: Uint8Array; size: number };
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    writer.writeFrame(Uint8Array.of(1), [{ bytes: packed.bytes, size: packed.size + 1 }]);
    writer.flush();
    const reader = new FrameReader({ maxBodyBytes: 1024, allowPayloads: true }, () => {});
    expect(() => reader.push(sink.bytes)).toThrow(/restored to 1048576 bytes, not the 1048577 its frame announced/);
  });

  test("lz4 is refused with a typed error naming the supported values", () => {
    expect(() => setCompression("lz4")).toThrow(InvalidArgumentError);
    expect(() => setCompression("lz4")).toThrow('use "zstd" or "none"');
  });
});
