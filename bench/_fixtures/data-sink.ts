/**
 * A raw Bun TCP bulk sink: the baseline peer for large transfers
 * (bench/data.bench.ts). Listens on 127.0.0.1, port 0, prints its port on
 * stdout. Each message on a connection is an 8-byte header
 * [u32 LE payload length][u32 LE flags] followed by the payload; the sink
 * copies the payload out of Bun's socket chunks (fresh, at most 512 KiB each:
 * Bun cannot read into a buffer of ours) into one receive buffer and, once the whole payload is
 * there, answers with one byte: the payload's last byte (0 for an empty one),
 * so the sender can check that the bytes arrived.
 *
 * The receive buffer is reused across messages (flags bit 0 clear), allocated
 * and touched up front to `argv[2]` bytes and grown when a bigger payload
 * comes. With flags bit 0 set, the message lands in a fresh allocation
 * instead, as a receiver without a reusable buffer would do. With flags bit 1
 * set (and no payload), the sink collects its garbage before it answers: the
 * benchmark asks for that between measurements, so that freeing the fresh
 * buffers of earlier messages does not land in a later measurement.
 *
 * With BENCH_SINK_COLLECT_MIB=N in its environment, the sink asks for a young
 * collection every N MiB it receives, as the runtime's readers do
 * (src/comms/frame-reader.ts): the socket chunks it copied out are freed
 * during a transfer and their memory is reused, not faulted in afresh.
 *
 * Exits when its stdin closes (the parent is gone) or on SIGTERM.
 */
import type { Socket } from "bun";
import { listenWithWriter, serveUntilParentGone, type SocketWriter } from "../_raw.ts";

const HEADER_BYTES = 8;
const FLAG_FRESH = 1;
const FLAG_COLLECT = 2;

interface SinkState {
  writer: SocketWriter;
  header: Uint8Array;
  headerFilled: number;
  /** Where the current payload goes, its length, and how much of it arrived; undefined between messages. */
  into: Uint8Array | undefined;
  length: number;
  filled: number;
}

/** The reused receive buffer, pre-sized and touched so that the first message pays no page faults. */
let reused = touched(Number(process.argv[2] ?? 0));

function touched(bytes: number): Uint8Array {
  const buffer = new Uint8Array(bytes);
  buffer.fill(1);
  return buffer;
}

function begin(state: SinkState): void {
  const view = new DataView(state.header.buffer);
  const length = view.getUint32(0, true);
  const flags = view.getUint32(4, true);
  if (flags & FLAG_FRESH) state.into = new Uint8Array(length);
  else {
    if (reused.length < length) reused = touched(length);
    state.into = reused;
  }
  state.length = length;
  state.filled = 0;
  state.headerFilled = 0;
  if (flags & FLAG_COLLECT) Bun.gc(true);
}

function complete(state: SinkState): void {
  const last = state.length > 0 ? state.into![state.length - 1]! : 0;
  state.into = undefined;
  state.writer.write(new Uint8Array([last]));
}

const COLLECT_EVERY = Number(process.env.BENCH_SINK_COLLECT_MIB ?? 0) * 2 ** 20;
let sinceCollect = 0;

function onData(socket: Socket<SinkState>, chunk: Uint8Array): void {
  const state = socket.data;
  if (COLLECT_EVERY > 0 && (sinceCollect += chunk.length) >= COLLECT_EVERY) {
    sinceCollect = 0;
    Bun.gc(false);
  }
  let at = 0;
  while (at < chunk.length) {
    if (state.into === undefined) {
      const take = Math.min(HEADER_BYTES - state.headerFilled, chunk.length - at);
      state.header.set(chunk.subarray(at, at + take), state.headerFilled);
      state.headerFilled += take;
      at += take;
      if (state.headerFilled < HEADER_BYTES) return;
      begin(state);
      if (state.length === 0) complete(state);
      continue;
    }
    const take = Math.min(state.length - state.filled, chunk.length - at);
    state.into.set(chunk.subarray(at, at + take), state.filled);
    state.filled += take;
    at += take;
    if (state.filled === state.length) complete(state);
  }
}

const listener = listenWithWriter<SinkState>((writer) => ({ writer, header: new Uint8Array(HEADER_BYTES), headerFilled: 0, into: undefined, length: 0, filled: 0 }), onData);
await serveUntilParentGone(listener);
