import { describe, expect, test } from "bun:test";
import { FrameReader, FrameWriter, readPathField, type RejectedPayloads, type SharedSizes } from "../../src/comms/framing.ts";
import { ProtocolError } from "../../src/errors.ts";

/** A socket stand-in: takes at most `accept` bytes per write (all by default), like Bun's socket.write, which buffers nothing it did not take. */
class Sink {
  writes: Uint8Array[] = [];
  accept = Infinity;
  write(data: Uint8Array, byteOffset = 0, byteLength = data.length - byteOffset): number {
    const taken = Math.min(byteLength, this.accept);
    this.writes.push(data.slice(byteOffset, byteOffset + taken));
    return taken;
  }
  get bytes(): Uint8Array {
    return Buffer.concat(this.writes);
  }
}

interface Frame {
  body: number[];
  payloads: number[][];
  rejected?: RejectedPayloads;
  shared?: SharedSizes;
}

function reader(limits = { maxBodyBytes: 1 << 20, allowPayloads: true }): { reader: FrameReader; frames: Frame[] } {
  const frames: Frame[] = [];
  const frameReader = new FrameReader(limits, (body, payloads, rejected, shared) => {
    const frame: Frame = { body: [...body], payloads: payloads.map((payload) => [...payload]) };
    if (rejected) frame.rejected = rejected;
    if (shared) frame.shared = shared;
    frames.push(frame);
  });
  frameReader.allocate = (bytes) => new Uint8Array(bytes);
  return { reader: frameReader, frames };
}

/** Feeds `bytes` to the reader in chunks of `size`. */
function feed(frameReader: FrameReader, bytes: Uint8Array, size: number): void {
  for (let at = 0; at < bytes.length; at += size) frameReader.push(bytes.subarray(at, at + size));
}

const bytes = (length: number, seed: number) => Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);

describe("FrameWriter and FrameReader", () => {
  test("frames sent in one tick leave in one write and read back whole at any chunk boundary", async () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    for (let i = 0; i < 100; i++) writer.writeFrame(Uint8Array.of(i, i + 1, i + 2));
    expect(sink.writes).toEqual([]);
    await Promise.resolve();
    expect(sink.writes.length).toBe(1);
    expect(writer.pendingBytes).toBe(0);
    for (const size of [1, 3, 5, 7, 64, 4096]) {
      const { reader: frameReader, frames } = reader();
      feed(frameReader, sink.bytes, size);
      expect(frames).toEqual(Array.from({ length: 100 }, (_, i) => ({ body: [i, i + 1, i + 2], payloads: [] })));
    }
  });

  test("a frame without payloads is offered in place first (chunk, start, end; or its own buffer when it spanned chunks); declined ones and payload frames come as usual", async () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    const sent = Array.from({ length: 40 }, (_, i) => i);
    // Frames 9, 19, 29, 39 carry a payload.
    for (const i of sent) writer.writeFrame(Uint8Array.of(i, 100 + i), i % 10 === 9 ? [Uint8Array.of(i)] : undefined);
    await Promise.resolve();
    for (const size of [sink.bytes.length, 1]) {
      const { reader: frameReader, frames } = reader();
      const inPlace: number[][] = [];
      const whole: boolean[] = [];
      // Frames with an even first byte are taken in place; odd ones are declined.
      frameReader.readInPlace = (chunk, start, end) => {
        if (chunk[start]! % 2 === 1) return false;
        inPlace.push([...chunk.subarray(start, end)]);
        whole.push(start === 0 && end === chunk.length);
        return true;
      };
      feed(frameReader, sink.bytes, size);
      const even = sent.filter((i) => i % 2 === 0);
      expect({ inPlace, usual: frames.map((frame) => frame.body) }).toEqual({
        inPlace: even.map((i) => [i, 100 + i]),
        usual: sent.filter((i) => i % 2 === 1).map((i) => [i, 100 + i]),
      });
      // In one chunk, each is read where it sits in it (the first at offset 5); in chunks of a byte, from its own buffer.
      expect(whole).toEqual(even.map(() => size === 1));
      expect(frames.filter((frame) => frame.payloads.length > 0).map((frame) => [frame.body[0], ...frame.payloads[0]!])).toEqual([9, 19, 29, 39].map((i) => [i, i]));
    }
  });

  test("raw payloads, small and large, follow their frame and come out as they went in", async () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    const small = bytes(100, 1);
    const large = bytes(100_000, 2);
    writer.writeFrame(Uint8Array.of(9), [small, new Uint8Array(0), large]);
    writer.writeFrame(Uint8Array.of(10));
    writer.flush();
    const { reader: frameReader, frames } = reader();
    feed(frameReader, sink.bytes, 30_000);
    expect(frames).toEqual([
      { body: [9], payloads: [[...small], [], [...large]] },
      { body: [10], payloads: [] },
    ]);
  });

  test("frames with large payloads, one after another, reuse their stages instead of taking a fresh one each, and read back whole even when writes are cut short", () => {
    const sink = new Sink();
    /** The memory each write came from: a stage is the writer's own memory, a large payload the caller's. */
    const sources = new Set<ArrayBufferLike>();
    const write = sink.write.bind(sink);
    sink.write = (data, byteOffset, byteLength) => {
      sources.add(data.buffer);
      return write(data, byteOffset, byteLength);
    };
    const writer = new FrameWriter(sink);
    const payloads = Array.from({ length: 12 }, (_, i) => bytes(64 * 1024, i));
    const expected: Frame[] = [];
    for (let i = 0; i < payloads.length; i++) {
      // Frames 4-7 meet a socket that takes 1000 bytes per write: stages wait in the queue, and a stage is reused only once written.
      sink.accept = i >= 4 && i < 8 ? 1000 : Infinity;
      writer.writeFrame(Uint8Array.of(i), [payloads[i]!]);
      writer.writeFrame(Uint8Array.of(100 + i)); // staged after the payload: the next stage
      writer.flush();
      if (i === 7) {
        sink.accept = Infinity;
        writer.onDrain();
      }
      expected.push({ body: [i], payloads: [[...payloads[i]!]] }, { body: [100 + i], payloads: [] });
    }
    expect(writer.pendingBytes).toBe(0);
    const stages = [...sources].filter((source) => !payloads.some((payload) => payload.buffer === source));
    // Two while every write is taken whole (the stage and the one sealed before it, written: the spare), and two more
    // for stages that waited in the queue while writes were cut short: 4. Before: a new 64 KiB stage for every frame
    // with a large payload (13 here).
    expect(stages.length).toBeLessThanOrEqual(4);
    const { reader: frameReader, frames } = reader();
    feed(frameReader, sink.bytes, 10_000);
    expect(frames).toEqual(expected);
  });

  test("what the socket does not take waits for drain, in order, and a snapshot keeps bytes the caller changes", async () => {
    const sink = new Sink();
    sink.accept = 1000;
    const writer = new FrameWriter(sink);
    const payload = bytes(50_000, 3);
    const original = [...payload];
    writer.writeFrame(Uint8Array.of(1), [payload], true);
    payload.fill(0); // the caller reuses its array right after the call
    writer.writeFrame(Uint8Array.of(2));
    await Promise.resolve();
    // A snapshot goes out at once: the staged header (16 bytes), then what the socket took of the payload; blocked until drain.
    expect(sink.writes.map((write) => write.length)).toEqual([16, 1000]);
    expect(writer.pendingBytes).toBe(50_000 - 1000 + 6); // the payload's tail and the second frame (header + 1 byte)
    let drains = 0;
    while (writer.pendingBytes > 0 && drains++ < 1000) writer.onDrain();
    expect(writer.pendingBytes).toBe(0);
    const { reader: frameReader, frames } = reader();
    feed(frameReader, sink.bytes, 4096);
    expect(frames).toEqual([
      { body: [1], payloads: [original] },
      { body: [2], payloads: [] },
    ]);
  });

  test("a writer whose last write was cut short tries again when a stage fills, without waiting for drain, and keeps the order", () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    // Frames of 1 KiB (+ 5-byte header), sent in one synchronous loop, as a program's loop of calls.
    const body = (i: number) => bytes(1024, i);
    sink.accept = 10_000; // the socket's buffer holds a little, then nothing
    let sent = 0;
    for (; sent < 70; sent++) writer.writeFrame(body(sent)); // more than a stage: it goes out, cut short
    expect(sink.writes.map((write) => write.length)).toEqual([10_000]);
    sink.accept = Infinity; // the peer read meanwhile (a Unix socket's ~200 KiB buffer empties while this side loops)
    for (; sent < 200; sent++) writer.writeFrame(body(sent));
    // Written while still in the loop: the tail of the first stage and the next full stage (before, only at drain).
    expect(sink.bytes.length).toBeGreaterThan(64 * 1024);
    writer.flush();
    writer.onDrain();
    expect(writer.pendingBytes).toBe(0);
    const { reader: frameReader, frames } = reader();
    feed(frameReader, sink.bytes, 65_536);
    expect(frames).toEqual(Array.from({ length: 200 }, (_, i) => ({ body: [...body(i)], payloads: [] })));
  });

  test("a payload in a shared segment crosses as its path, with its size marked shared", () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    const path = "/dev/shm/mosaic-abc-1-pool-0-ffff";
    writer.writeFrame(Uint8Array.of(7), [{ path, size: 5 << 20 }, Uint8Array.of(1, 2)]);
    writer.flush();
    const { reader: frameReader, frames } = reader();
    frameReader.push(sink.bytes);
    expect(frames.length).toBe(1);
    expect(frames[0]!.shared).toEqual([5 << 20, undefined]);
    expect(readPathField(Uint8Array.from(frames[0]!.payloads[0]!))).toBe(path);
    expect(frames[0]!.payloads[1]).toEqual([1, 2]);
  });

  test("payloads the receiver does not admit are skipped and reported, and the next frame still reads", () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    writer.writeFrame(Uint8Array.of(1), [bytes(3000, 4), { path: "/dev/shm/mosaic-abc-1-9-ffff", size: 1 << 20 }]);
    writer.writeFrame(Uint8Array.of(2), [Uint8Array.of(5)]);
    writer.flush();
    const { reader: frameReader, frames } = reader();
    frameReader.admit = (total) => total < 10_000;
    feed(frameReader, sink.bytes, 100);
    expect(frames).toEqual([
      { body: [1], payloads: [], rejected: { bytes: 3000 + (1 << 20), segments: ["/dev/shm/mosaic-abc-1-9-ffff"] } },
      { body: [2], payloads: [[5]] },
    ]);
  });

  test("a frame over the body limit, of an unknown kind, or with payloads before the handshake is refused with ProtocolError", () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    writer.writeFrame(new Uint8Array(200));
    writer.flush();
    expect(() => reader({ maxBodyBytes: 100, allowPayloads: true }).reader.push(sink.bytes)).toThrow(ProtocolError);
    expect(() => reader({ maxBodyBytes: 100, allowPayloads: true }).reader.push(sink.bytes)).toThrow("exceeds the limit of 100 bytes");

    expect(() => reader().reader.push(Uint8Array.of(1, 0, 0, 0, 99, 0))).toThrow("unknown frame kind 99");

    const withPayload = new Sink();
    const payloadWriter = new FrameWriter(withPayload);
    payloadWriter.writeFrame(Uint8Array.of(1), [Uint8Array.of(2)]);
    payloadWriter.flush();
    expect(() => reader({ maxBodyBytes: 100, allowPayloads: false }).reader.push(withPayload.bytes)).toThrow(ProtocolError);
  });

  test("a frame with more raw payloads than its count field holds is refused before anything is queued", () => {
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    expect(() => writer.writeFrame(Uint8Array.of(1), Array.from({ length: 0x10000 }, () => new Uint8Array(0)))).toThrow(ProtocolError);
    expect(writer.pendingBytes).toBe(0);
  });

  test("a closed writer drops what is queued and writes nothing more", async () => {
    const sink = new Sink();
    sink.accept = 0;
    const writer = new FrameWriter(sink);
    writer.writeFrame(new Uint8Array(10));
    writer.flush();
    expect(writer.pendingBytes).toBe(15);
    writer.close();
    expect(writer.pendingBytes).toBe(0);
    sink.accept = Infinity;
    writer.writeFrame(Uint8Array.of(1));
    writer.onDrain();
    await Promise.resolve();
    expect(sink.bytes.length).toBe(0);
  });
});
