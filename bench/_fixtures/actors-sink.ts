/**
 * A raw Bun TCP counting sink: the baseline peer for pipelined one-way
 * messages (bench/actors.bench.ts). Listens on 127.0.0.1, port 0, prints its
 * port on stdout, splits the stream of every connection into fixed 64-byte
 * messages, checks that each carries the next sequence number (u32 LE at
 * offset 0), and after every data chunk answers with the number of messages
 * received so far on that connection (f64 LE, 8 bytes). Exits when its stdin
 * closes (the parent is gone) or on SIGTERM.
 */
import type { Socket } from "bun";
import { listenWithWriter, serveUntilParentGone, type SocketWriter } from "../_raw.ts";

const MESSAGE_BYTES = 64;

interface SinkState {
  writer: SocketWriter;
  /** Bytes of a message cut by the end of the previous chunk. */
  carry: Uint8Array;
  carried: number;
  count: number;
}

function onMessage(state: SinkState, bytes: Uint8Array, at: number): void {
  const sequence = (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
  if (sequence !== state.count >>> 0) {
    process.stderr.write(`actors-sink: message ${state.count} carries sequence number ${sequence}\n`);
    process.exit(1);
  }
  state.count++;
}

function onData(socket: Socket<SinkState>, chunk: Uint8Array): void {
  const state = socket.data;
  let at = 0;
  if (state.carried > 0) {
    const take = Math.min(MESSAGE_BYTES - state.carried, chunk.length);
    state.carry.set(chunk.subarray(0, take), state.carried);
    state.carried += take;
    at = take;
    if (state.carried < MESSAGE_BYTES) return;
    onMessage(state, state.carry, 0);
    state.carried = 0;
  }
  for (; at + MESSAGE_BYTES <= chunk.length; at += MESSAGE_BYTES) onMessage(state, chunk, at);
  if (at < chunk.length) {
    state.carry.set(chunk.subarray(at), 0);
    state.carried = chunk.length - at;
  }
  const reply = new Uint8Array(8);
  new DataView(reply.buffer).setFloat64(0, state.count, true);
  state.writer.write(reply);
}

const listener = listenWithWriter<SinkState>((writer) => ({ writer, carry: new Uint8Array(MESSAGE_BYTES), carried: 0, count: 0 }), onData);
await serveUntilParentGone(listener);
