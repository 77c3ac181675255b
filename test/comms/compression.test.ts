import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { BLOCK_BYTES, BLOCK_HEADER_BYTES, compressPayload, DeflatingPayload, setCompression } from "../../src/comms/compression.ts";
import { FrameReader, FrameWriter } from "../../src/comms/framing.ts";
import { clusterId, removeSegments } from "../../src/comms/shared-memory/index.ts";
import { InvalidArgumentError, ProtocolError } from "../../src/errors.ts";

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
  get length(): number {
    return this.writes.reduce((sum, write) => sum + write.byteLength, 0);
  }
  get bytes(): Uint8Array {
    return Buffer.concat(this.writes);
  }
}

/** A socket that takes `room` bytes more each time it is opened, then takes none until the next (`drain`). */
class NarrowSink extends Sink {
  room = 0;
  override write(data: Uint8Array, byteOffset = 0, byteLength = data.length - byteOffset): number {
    const taken = Math.min(this.room, byteLength);
    this.room -= taken;
    if (taken > 0) super.write(data, byteOffset, taken);
    return taken;
  }
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Writes until the writer has nothing left, a turn of the loop at a time; how many turns it took. */
async function drain(writer: FrameWriter): Promise<number> {
  let turns = 0;
  while (writer.pendingBytes > 0) {
    await nextTurn();
    turns++;
  }
  return turns;
}

/**
 * What a writer puts on the socket for a frame (body [1]) carrying `source`
 * compressed, and a frame (body [2]) carrying `next` if given, once all is written.
 */
async function compressedWire(source: Uint8Array, next?: Uint8Array[]): Promise<Uint8Array> {
  setCompression("zstd");
  const sink = new Sink();
  const writer = new FrameWriter(sink);
  writer.writeFrame(Uint8Array.of(1), [compressPayload(source)]);
  if (next) writer.writeFrame(Uint8Array.of(2), next);
  await drain(writer);
  return sink.bytes;
}

/** Waits until the reader has read every byte it was given (it leaves restoring work past a turn's share for later turns); how many turns that took. */
async function settle(reader: FrameReader): Promise<number> {
  let turns = 0;
  while (reader.paused) {
    await nextTurn();
    turns++;
  }
  return turns;
}

type Frame = { body: number[]; payloads: Uint8Array[]; socketBytes: number | undefined };

function reader(allocated: Uint8Array[] = [], admitted: number[] = []): { reader: FrameReader; frames: Frame[] } {
  const frames: Frame[] = [];
  const reader = new FrameReader({ maxBodyBytes: 1024, allowPayloads: true }, (body, payloads, _rejected, _shared, socketBytes) => {
    frames.push({ body: [...body], payloads, socketBytes });
  });
  reader.allocate = (bytes) => {
    const target = new Uint8Array(bytes);
    allocated.push(target);
    return target;
  };
  reader.admit = (bytes) => {
    admitted.push(bytes);
    return true;
  };
  return { reader, frames };
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

afterEach(() => setCompression("none"));
// Snapshot sends copy their sources into scratch segments of this process's /dev/shm pool, which a runtime removes
// when it stops (the test runner does not run exit handlers: remove it here, and check).
afterAll(() => {
  removeSegments();
  expect(readdirSync("/dev/shm").filter((name) => name.startsWith(`mosaic-${clusterId()}-${process.pid}-`))).toEqual([]);
});

describe("compression of payloads between machines", () => {
  test("with zstd, a compressible payload is compressed; random bytes, small payloads and payloads with compression off are sent as they are", () => {
    const smooth = compressible(MiB);
    const noise = random(MiB);
    const small = compressible(32 * 1024);
    expect(compressPayload(smooth)).toBe(smooth);
    setCompression("zstd");
    const packed = compressPayload(smooth);
    expect(packed).toBeInstanceOf(DeflatingPayload);
    expect((packed as DeflatingPayload).size).toBe(MiB);
    expect(compressPayload(noise)).toBe(noise);
    expect(compressPayload(small)).toBe(small);
  });

  test("compressed payloads cross the frame format marked, block by block, and come back intact into the reader's memory at any chunk boundary; the reader tells the bytes on the wire", async () => {
    setCompression("zstd");
    const smooth = compressible(5 * MiB + 12_345);
    const noise = random(256 * 1024);
    const tiny = Uint8Array.of(1, 2, 3);
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    writer.writeFrame(Uint8Array.of(9, 8, 7), [smooth, noise, tiny].map(compressPayload));
    await drain(writer);
    const wire = sink.bytes;
    expect(wire.byteLength).toBeLessThan(smooth.byteLength / 10 + noise.byteLength + 1024);
    // Header, body's prefix and body, the payloads: what the compressed one took is the rest.
    const wireSmooth = wire.byteLength - (5 + 2 + 3 * 8 + 3) - noise.byteLength - tiny.byteLength;
    for (const chunk of [1000, 64 * 1024, 512 * 1024]) {
      const allocated: Uint8Array[] = [];
      const admitted: number[] = [];
      const { reader: r, frames } = reader(allocated, admitted);
      for (let at = 0; at < wire.length; at += chunk) r.push(wire.subarray(at, at + chunk));
      await settle(r);
      expect(frames.length).toBe(1);
      const [frame] = frames;
      expect({
        body: frame!.body,
        intact: [smooth, noise, tiny].map((expected, i) => same(frame!.payloads[i]!, expected)),
        // Restored into the allocator's memory, where an uncompressed payload lands.
        inAllocated: frame!.payloads.slice(0, 2).map((payload, i) => payload === allocated[i]),
        socketBytes: frame!.socketBytes,
        // The budget is asked for the most the frame holds at once: a compressed payload restored, and two blocks
        // more (one as it came, split over chunks, and the codec's output); the others once.
        admitted,
      }).toEqual({
        body: [9, 8, 7],
        intact: [true, true, true],
        inAllocated: [true, true],
        socketBytes: wireSmooth + noise.byteLength + tiny.byteLength,
        admitted: [smooth.byteLength + 2 * BLOCK_BYTES + noise.byteLength + 3],
      });
    }
  });

  test("a payload whose samples are random but whose body compresses is compressed; its random block goes raw, the others compressed", async () => {
    setCompression("zstd");
    const mixed = new Uint8Array(4 * MiB);
    mixed.set(random(BLOCK_BYTES), 0);
    expect(compressPayload(mixed)).toBeInstanceOf(DeflatingPayload);
    const wire = await compressedWire(mixed);
    const { reader: r, frames } = reader();
    r.push(wire);
    await settle(r);
    expect(same(frames[0]!.payloads[0]!, mixed)).toBe(true);
    // The random block as it is (with its header), the three zero blocks a few bytes each.
    expect(frames[0]!.socketBytes).toBeGreaterThan(BLOCK_BYTES);
    expect(frames[0]!.socketBytes).toBeLessThan(BLOCK_BYTES + 4 * BLOCK_HEADER_BYTES + 3 * 1024);
  });

  test("a large compressed payload is made a few blocks per turn of the event loop, not in one call: frames sent after it follow it, in order", async () => {
    setCompression("zstd");
    const smooth = compressible(64 * MiB);
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    writer.writeFrame(Uint8Array.of(1), [compressPayload(smooth)]);
    writer.writeFrame(Uint8Array.of(2));
    writer.flush();
    const firstFlush = sink.length;
    const turns = await drain(writer);
    const { reader: r, frames } = reader();
    r.push(sink.bytes);
    await settle(r);
    expect({ frames: frames.map((f) => f.body), intact: same(frames[0]!.payloads[0]!, smooth) }).toEqual({ frames: [[1], [2]], intact: true });
    // 64 blocks of 1 MiB, at most 4 MiB of them per flush: the loop turned in between (more than one of the
    // writer's turns may fall in one of ours).
    expect(turns).toBeGreaterThanOrEqual(4);
    expect(firstFlush).toBeLessThan(sink.length / 8);
  });

  test("a snapshot send compresses the payload as it was when sent, whatever the caller does to it while its blocks are made", async () => {
    setCompression("zstd");
    const smooth = compressible(16 * MiB);
    const original = smooth.slice();
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    writer.writeFrame(Uint8Array.of(1), [compressPayload(smooth)], true);
    smooth.fill(7);
    await drain(writer);
    const { reader: r, frames } = reader();
    r.push(sink.bytes);
    await settle(r);
    expect(same(frames[0]!.payloads[0]!, original)).toBe(true);
  });

  test("the writer's pending bytes reach 0 only once the whole frame is out, a raw last block included, and onEmpty fires when a later turn finishes it", async () => {
    setCompression("zstd");
    // Four blocks: three smooth, the last one noise (sent raw, its header first): the first flush's share ends at its header.
    const source = compressible(4 * MiB);
    source.set(random(BLOCK_BYTES), 3 * BLOCK_BYTES);
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    writer.writeFrame(Uint8Array.of(1), [compressPayload(source)]);
    writer.writeFrame(Uint8Array.of(2), [Uint8Array.of(3)]);
    let emptied = 0;
    const seen: [pending: number, written: number][] = [];
    writer.flush();
    writer.onEmpty = () => emptied++;
    seen.push([writer.pendingBytes, sink.length]);
    for (let turn = 0; turn < 20 && writer.pendingBytes > 0; turn++) {
      await nextTurn();
      seen.push([writer.pendingBytes, sink.length]);
    }
    const total = sink.length;
    // Nothing pending means everything written: a frame cut short at a closing link would reach the peer half-sent.
    expect(seen.filter(([pending, written]) => pending === 0 && written < total)).toEqual([]);
    expect({ pending: writer.pendingBytes, emptied, firstFlushWhole: seen[0]![1] === total }).toEqual({ pending: 0, emptied: 1, firstFlushWhole: false });
    const { reader: r, frames } = reader();
    r.push(sink.bytes);
    await settle(r);
    expect({ bodies: frames.map((f) => f.body), intact: same(frames[0]!.payloads[0]!, source) }).toEqual({ bodies: [[1], [2]], intact: true });
  });

  test("a snapshot's raw block cut short by a full socket is sent as it was, whatever the caller writes into its array meanwhile", async () => {
    setCompression("zstd");
    // The first block is noise (raw), the rest smooth: the samples pay, the raw block is made in the first flush.
    const source = compressible(4 * MiB);
    source.set(random(BLOCK_BYTES), 0);
    const original = source.slice();
    const sink = new NarrowSink();
    const writer = new FrameWriter(sink);
    // Room for the frame's header, its payload size, its body, the raw block's header and 1000 of its bytes.
    sink.room = 5 + 2 + 8 + 1 + BLOCK_HEADER_BYTES + 1000;
    writer.writeFrame(Uint8Array.of(1), [compressPayload(source)], true);
    source.fill(7);
    for (let round = 0; round < 100 && writer.pendingBytes > 0; round++) {
      sink.room = 256 * 1024;
      writer.onDrain();
      await nextTurn();
    }
    const { reader: r, frames } = reader();
    r.push(sink.bytes);
    await settle(r);
    expect({ pending: writer.pendingBytes, intact: same(frames[0]!.payloads[0]!, original) }).toEqual({ pending: 0, intact: true });
  });

  test("a compressed payload whose memory is detached while it is sent fails the writer through onError, with a protocol error naming the sizes", async () => {
    setCompression("zstd");
    const source = compressible(8 * MiB);
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    const errors: unknown[] = [];
    writer.onError = (error) => errors.push(error);
    writer.writeFrame(Uint8Array.of(1), [compressPayload(source)]);
    writer.flush();
    (source.buffer as ArrayBuffer).transfer();
    await drain(writer);
    expect(errors.map((error) => [error instanceof ProtocolError, (error as Error).message])).toEqual([
      [true, "a payload of 8388608 bytes holds 0 now: its memory was detached or shrunk while it was sent"],
    ]);
    writer.writeFrame(Uint8Array.of(2));
    await nextTurn();
    expect(writer.pendingBytes).toBe(0);
  });

  test("a stopped reader drops what waits for later turns and reads nothing more", async () => {
    const wire = await compressedWire(compressible(64 * MiB));
    const allocated: Uint8Array[] = [];
    const { reader: r, frames } = reader(allocated);
    r.push(wire);
    expect(r.paused).toBe(true);
    const target = allocated[0]!;
    r.stop();
    r.push(wire);
    await nextTurn();
    await nextTurn();
    // Restoring stopped at the first turn's share: the rest of the target is as allocated (zero).
    expect({ paused: r.paused, frames: frames.length, allocated: allocated.length, tailUntouched: target.subarray(32 * MiB).every((byte) => byte === 0) }).toEqual({
      paused: false,
      frames: 0,
      allocated: 1,
      tailUntouched: true,
    });
  });

  test("the reader restores each block as it arrives: half the wire in, the first blocks are already in place", async () => {
    const smooth = compressible(16 * MiB);
    const wire = await compressedWire(smooth);
    const allocated: Uint8Array[] = [];
    const { reader: r, frames } = reader(allocated);
    r.push(wire.subarray(0, wire.length / 2));
    await settle(r);
    expect({ frames: frames.length, allocated: allocated.length }).toEqual({ frames: 0, allocated: 1 });
    expect(same(allocated[0]!.subarray(0, 4 * MiB), smooth.subarray(0, 4 * MiB))).toBe(true);
    r.push(wire.subarray(wire.length / 2));
    await settle(r);
    expect(frames[0]!.payloads[0]).toBe(allocated[0]!);
    expect(same(allocated[0]!, smooth)).toBe(true);
  });

  test("a socket chunk that restores to more than a turn's share is read over several turns: the loop turns in between, frames after it come in order, and an error found in a later turn reaches the reader's owner", async () => {
    const smooth = compressible(64 * MiB);
    const wire = await compressedWire(smooth, [Uint8Array.of(3)]);
    // The whole 64 MiB in one chunk of ~1 MiB (a socket read holds up to 512 KiB: ~37 MiB of this data).
    const { reader: r, frames } = reader();
    r.push(wire);
    expect({ frames: frames.length, paused: r.paused }).toEqual({ frames: 0, paused: true });
    // A chunk arriving meanwhile waits behind the rest.
    r.push(Uint8Array.of(...wire.subarray(0, 5 + 2 + 8 + 1)));
    const turns = await settle(r);
    expect(turns).toBeGreaterThanOrEqual(4);
    expect({ frames: frames.map((f) => f.body), intact: same(frames[0]!.payloads[0]!, smooth) }).toEqual({ frames: [[1], [2]], intact: true });

    // A block that cannot be restored, found in a later turn: told to onError, not thrown from the timer.
    const broken = wire.slice();
    const blocks = 16;
    // Past the frame's header (5), count and size (2 + 8) and body (1): walk the blocks' headers to the 17th.
    let at = 16;
    for (let i = 0; i < blocks; i++) at += BLOCK_HEADER_BYTES + new DataView(broken.buffer, at, 4).getUint32(0, true);
    broken.fill(0xff, at + BLOCK_HEADER_BYTES, at + BLOCK_HEADER_BYTES + 8);
    const errors: unknown[] = [];
    const { reader: r2, frames: frames2 } = reader();
    r2.onError = (error) => errors.push(error);
    r2.push(broken);
    await settle(r2);
    expect({ frames: frames2.length, errors: errors.map((e) => [e instanceof ProtocolError, (e as Error).message.includes("cannot be decompressed")]) }).toEqual({ frames: 0, errors: [[true, true]] });
  });

  test("a frame the memory budget refuses skips its compressed payload block by block, and the next frame reads as usual", async () => {
    setCompression("zstd");
    const smooth = compressible(3 * MiB);
    const sink = new Sink();
    const writer = new FrameWriter(sink);
    writer.writeFrame(Uint8Array.of(1), [compressPayload(smooth), Uint8Array.of(5, 6)]);
    writer.writeFrame(Uint8Array.of(2), [Uint8Array.of(3, 4)]);
    await drain(writer);
    const rejected: (number | undefined)[] = [];
    const bodies: number[][] = [];
    const r = new FrameReader({ maxBodyBytes: 1024, allowPayloads: true }, (body, payloads, refused) => {
      bodies.push([...body, ...payloads.flatMap((p) => [...p])]);
      rejected.push(refused?.bytes);
    });
    r.admit = (bytes) => bytes < MiB;
    for (let at = 0; at < sink.bytes.length; at += 4096) r.push(sink.bytes.subarray(at, at + 4096));
    await settle(r);
    expect({ bodies, rejected }).toEqual({ bodies: [[1], [2, 3, 4]], rejected: [smooth.byteLength + 2, undefined] });
  });

  test("a block that restores to other than its header says, or that overruns its payload, is refused as a protocol error", () => {
    const frameWith = (blocks: Uint8Array[], size: number) => {
      const sink = new Sink();
      const writer = new FrameWriter(sink);
      // A compressed payload that hands out the given blocks.
      const payload = new DeflatingPayload(new Uint8Array(size));
      const queue = [...blocks];
      payload.next = () => queue.shift();
      writer.writeFrame(Uint8Array.of(1), [payload]);
      writer.flush();
      return sink.bytes;
    };
    const header = (wire: number, restored: number) => {
      const bytes = new Uint8Array(BLOCK_HEADER_BYTES);
      const view = new DataView(bytes.buffer);
      view.setUint32(0, wire, true);
      view.setUint32(4, restored, true);
      return bytes;
    };
    const packed = Bun.zstdCompressSync(compressible(MiB));
    const push = (wire: Uint8Array) => new FrameReader({ maxBodyBytes: 1024, allowPayloads: true }, () => {}).push(wire);
    // The header says one byte more than the block holds.
    expect(() => push(frameWith([header(packed.byteLength, MiB - 1), packed], MiB))).toThrow(/a compressed block (restored to 1048576 bytes, not|of \d+ bytes cannot be decompressed into) the 1048575 its header announced/);
    // A block restoring past the payload's announced size.
    expect(() => push(frameWith([header(packed.byteLength, MiB), packed], MiB / 2))).toThrow(ProtocolError);
    expect(() => push(frameWith([header(packed.byteLength, MiB), packed], MiB / 2))).toThrow(/does not fit its frame \(524288 of 524288 bytes left/);
    // Bytes that are no zstd frame.
    expect(() => push(frameWith([header(4, 4), Uint8Array.of(1, 2, 3, 4)], 4))).toThrow(/a compressed block of 4 bytes cannot be decompressed/);
  });

  test("without libzstd (MOSAIC_LIBZSTD=0), blocks are restored by Bun's zstd and copied into place, and a block whose zstd frame declares another size than its header is refused before it is restored", async () => {
    const script = `
      import { compressPayload, DeflatingPayload, setCompression } from "${import.meta.dir}/../../src/comms/compression.ts";
      import { FrameReader, FrameWriter } from "${import.meta.dir}/../../src/comms/framing.ts";
      setCompression("zstd");
      const source = new Uint8Array(new Float32Array(3 * 2 ** 18).map((_, i) => Math.round(Math.sin(i / 5000) * 1000) / 8).buffer);
      const wire = [];
      const writer = new FrameWriter({ write: (data, offset = 0, length = data.length - offset) => (wire.push(data.slice(offset, offset + length)), length) });
      writer.writeFrame(Uint8Array.of(1), [compressPayload(source)]);
      while (writer.pendingBytes > 0) await new Promise((resolve) => setImmediate(resolve));
      const bytes = Buffer.concat(wire);
      let restored;
      new FrameReader({ maxBodyBytes: 64, allowPayloads: true }, (_body, payloads) => (restored = payloads[0])).push(bytes);
      let refused = "";
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      view.setUint32(16 + 4, view.getUint32(16 + 4, true) - 1, true);
      try { new FrameReader({ maxBodyBytes: 64, allowPayloads: true }, () => {}).push(bytes); } catch (error) { refused = error.message; }
      // A block whose zstd frame holds more than its header says is refused before it is restored.
      const larger = Bun.zstdCompressSync(new Uint8Array(2 * 2 ** 20), { level: 1 });
      const header = new Uint8Array(8);
      new DataView(header.buffer).setUint32(0, larger.length, true);
      new DataView(header.buffer).setUint32(4, 2 ** 20, true);
      const bomb = new DeflatingPayload(new Uint8Array(2 ** 20));
      const blocks = [header, larger];
      bomb.next = () => blocks.shift();
      const bombWire = [];
      new FrameWriter({ write: (data, offset = 0, length = data.length - offset) => (bombWire.push(data.slice(offset, offset + length)), length) }).writeFrame(Uint8Array.of(1), [bomb]);
      let bombRefused = "";
      await new Promise((resolve) => setImmediate(resolve));
      try { new FrameReader({ maxBodyBytes: 64, allowPayloads: true }, () => {}).push(Buffer.concat(bombWire)); } catch (error) { bombRefused = error.message; }
      console.log(JSON.stringify({ intact: Buffer.compare(Buffer.from(restored), Buffer.from(source)) === 0, wire: bytes.length < source.length / 10, refused, bombRefused }));
    `;
    const run = Bun.spawn([process.execPath, "-e", script], { env: { ...process.env, MOSAIC_LIBZSTD: "0" }, stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
    if (code !== 0) throw new Error(err);
    expect(JSON.parse(out)).toEqual({
      intact: true,
      wire: true,
      refused: "a compressed block's zstd frame declares 1048576 bytes, not the 1048575 its header announced",
      bombRefused: "a compressed block's zstd frame declares 2097152 bytes, not the 1048576 its header announced",
    });
  });

  test("lz4 is refused with a typed error naming the supported values", () => {
    expect(() => setCompression("lz4")).toThrow(InvalidArgumentError);
    expect(() => setCompression("lz4")).toThrow('use "zstd" or "none"');
  });
});
