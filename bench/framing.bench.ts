/**
 * Pipelined request throughput over one authenticated Connection in this
 * process (TcpServer + connectTcp, echo handler), next to raw Bun TCP
 * pipelined 64-byte messages between two sockets of this process, measured
 * in alternating rounds of the same size. Three raw baselines:
 * - 64 B messages echoed one by one, each side's messages of a tick in one
 *   write (how the runtime's FrameWriter writes): the headline ratio;
 * - the same with one socket.write() per message;
 * - length-prefixed msgpackr tuples with the runtime's codec but no
 *   Connection: what the codec alone costs, so the rest is the Connection's.
 */
import type { Socket, TCPSocketListener } from "bun";
import { decodeMessage, encodeMessage } from "../src/comms/codec.ts";
import type { Connection, ConnectionHandler } from "../src/comms/connection.ts";
import { FRAME_HEADER_BYTES, MessageKind } from "../src/comms/protocol.ts";
import { connectTcp, TcpServer } from "../src/comms/transports/tcp.ts";
import { emit, exitGuard, median, note, round } from "./_lib.ts";
import { connectWithWriter, listenWithWriter, type SocketWriter } from "./_raw.ts";

const BENCH = "framing";
const MESSAGE_BYTES = 64;
/** Requests (or raw messages) in flight per round: all sent at once, then all awaited. */
const BATCH = 20_000;
const WARMUP_ROUNDS = 3;
const ROUNDS = 9;
const SECRET = "framing-bench-secret";

// ------------------------------------------------------------- mosaic

/** A string argument that makes the request frame MESSAGE_BYTES long (ids of 3 bytes, as most in a round). */
function echoArgument(): string {
  for (let length = 0; length < MESSAGE_BYTES; length++) {
    const text = "x".repeat(length);
    if (FRAME_HEADER_BYTES + encodeMessage([MessageKind.Request, 1000, "echo", text]).length === MESSAGE_BYTES) return text;
  }
  throw new Error(`no argument makes a ${MESSAGE_BYTES}-byte request frame`);
}

const handler: ConnectionHandler = {
  onRequest(_connection, method, args) {
    if (method === "echo") return args;
    throw new Error(`unknown method ${method}`);
  },
  onCommand() {},
};

interface MosaicPair {
  server: TcpServer;
  client: Connection;
}

async function mosaicPair(): Promise<MosaicPair> {
  const server = new TcpServer("127.0.0.1", 0, {
    self: { uid: "bench-server", address: "127.0.0.1", pid: process.pid },
    secret: SECRET,
    handler,
    log: (line) => note(`${BENCH}: server: ${line}`),
  });
  const client = await connectTcp("127.0.0.1", server.port, {
    self: { uid: "bench-client", address: "127.0.0.1", port: 0, pid: process.pid },
    secret: SECRET,
    handler,
    log: (line) => note(`${BENCH}: client: ${line}`),
  });
  return { server, client };
}

async function mosaicRound(client: Connection, argument: string): Promise<number> {
  const t0 = performance.now();
  const replies: Promise<unknown>[] = new Array(BATCH);
  for (let i = 0; i < BATCH; i++) replies[i] = client.request("echo", argument);
  await Promise.all(replies);
  return performance.now() - t0;
}

// ------------------------------------------------------------- raw

/**
 * Collects what is sent in one tick and writes it as one buffer (as the
 * runtime's FrameWriter does), or writes every message at once (`eager`).
 */
class Outbox {
  #writer: SocketWriter;
  #eager: boolean;
  #parts: Uint8Array[] = [];
  #bytes = 0;

  constructor(writer: SocketWriter, eager: boolean) {
    this.#writer = writer;
    this.#eager = eager;
  }

  send(bytes: Uint8Array): void {
    if (this.#eager) return this.#writer.write(bytes);
    this.#parts.push(bytes);
    this.#bytes += bytes.length;
    if (this.#parts.length === 1) queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    const out = new Uint8Array(this.#bytes);
    let at = 0;
    for (const part of this.#parts) {
      out.set(part, at);
      at += part.length;
    }
    this.#parts = [];
    this.#bytes = 0;
    this.#writer.write(out);
  }
}

/** Splits a byte stream into messages; `frameLength` says how long the message at the front is (or undefined: incomplete). */
class Splitter {
  #carry: Uint8Array | undefined;
  #frameLength: (bytes: Uint8Array, at: number) => number | undefined;

  constructor(frameLength: (bytes: Uint8Array, at: number) => number | undefined) {
    this.#frameLength = frameLength;
  }

  push(chunk: Uint8Array, onMessage: (message: Uint8Array) => void): void {
    let bytes = chunk;
    if (this.#carry) {
      bytes = new Uint8Array(this.#carry.length + chunk.length);
      bytes.set(this.#carry);
      bytes.set(chunk, this.#carry.length);
      this.#carry = undefined;
    }
    let at = 0;
    for (;;) {
      const length = this.#frameLength(bytes, at);
      if (length === undefined || at + length > bytes.length) break;
      onMessage(bytes.subarray(at, at + length));
      at += length;
    }
    if (at < bytes.length) this.#carry = bytes.slice(at);
  }
}

/** A wire format for the raw baselines: how to frame, and what the server answers. */
interface RawProtocol {
  frameLength(bytes: Uint8Array, at: number): number | undefined;
  request(index: number): Uint8Array;
  reply(request: Uint8Array): Uint8Array;
  /** Called by the client for every reply (decoding it, if the protocol has an encoding). */
  onReply(reply: Uint8Array): void;
}

/** Opaque fixed-size messages: no encoding, the server echoes each one. */
const fixedMessages: RawProtocol = {
  frameLength: (bytes, at) => (bytes.length - at >= MESSAGE_BYTES ? MESSAGE_BYTES : undefined),
  request: () => rawMessage,
  reply: (request) => request,
  onReply: () => {},
};

/** [u32 LE length][msgpackr message] with the runtime's codec: the cost floor of messages like the runtime's. */
function msgpackrMessages(argument: string): RawProtocol {
  const frame = (body: Uint8Array) => {
    const bytes = new Uint8Array(4 + body.length);
    new DataView(bytes.buffer).setUint32(0, body.length, true);
    bytes.set(body, 4);
    return bytes;
  };
  return {
    frameLength(bytes, at) {
      if (bytes.length - at < 4) return undefined;
      return 4 + new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
    },
    request: (index) => frame(encodeMessage([MessageKind.Request, index, "echo", argument])),
    reply(request) {
      const message = decodeMessage(request.subarray(4));
      if (message[0] !== MessageKind.Request) throw new Error("not a request");
      return frame(encodeMessage([MessageKind.Reply, message[1], message[3]]));
    },
    onReply(reply) {
      decodeMessage(reply.subarray(4));
    },
  };
}

const rawMessage = new Uint8Array(MESSAGE_BYTES).fill(0x61);

interface ServerState {
  writer: SocketWriter;
  outbox: Outbox;
  splitter: Splitter;
}

interface RawPair {
  listener: TCPSocketListener<ServerState>;
  client: Socket<undefined>;
  round(): Promise<number>;
}

async function rawPair(protocol: RawProtocol, eager: boolean): Promise<RawPair> {
  const listener = listenWithWriter<ServerState>(
    (writer) => ({ writer, outbox: new Outbox(writer, eager), splitter: new Splitter(protocol.frameLength) }),
    (socket, chunk) => {
      const { outbox, splitter } = socket.data;
      splitter.push(chunk, (request) => outbox.send(protocol.reply(request)));
    },
  );
  let outstanding = 0;
  let done: (() => void) | undefined;
  const splitter = new Splitter(protocol.frameLength);
  const onReply = (reply: Uint8Array) => {
    protocol.onReply(reply);
    if (--outstanding === 0 && done) {
      const wake = done;
      done = undefined;
      wake();
    }
  };
  const { socket: client, writer } = await connectWithWriter(listener.port, (chunk) => splitter.push(chunk, onReply));
  const outbox = new Outbox(writer, eager);
  return {
    listener,
    client,
    async round() {
      const t0 = performance.now();
      const { promise, resolve } = Promise.withResolvers<void>();
      done = resolve;
      outstanding = BATCH;
      for (let i = 0; i < BATCH; i++) outbox.send(protocol.request(i));
      await promise;
      return performance.now() - t0;
    },
  };
}

// ------------------------------------------------------------- main

interface Contender {
  name: string;
  round(): Promise<number>;
  rates: number[];
}

let mosaic: MosaicPair | undefined;
const raws: RawPair[] = [];
try {
  const argument = echoArgument();
  mosaic = await mosaicPair();
  const client = mosaic.client;
  const coalesced = await rawPair(fixedMessages, false);
  const eager = await rawPair(fixedMessages, true);
  const msgpackr = await rawPair(msgpackrMessages(argument), false);
  raws.push(coalesced, eager, msgpackr);
  const contenders: Contender[] = [
    { name: "mosaic", round: () => mosaicRound(client, argument), rates: [] },
    { name: "raw coalesced", round: () => coalesced.round(), rates: [] },
    { name: "raw one write each", round: () => eager.round(), rates: [] },
    { name: "raw msgpackr frames", round: () => msgpackr.round(), rates: [] },
  ];
  // Alternating rounds, so that a noisy moment hits every contender alike.
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    for (const contender of contenders) {
      const ms = await contender.round();
      if (round >= WARMUP_ROUNDS) contender.rates.push(BATCH / (ms / 1000));
    }
  }
  for (const contender of contenders) {
    note(`${BENCH}: ${contender.name}: round trips/s (thousands) ${contender.rates.map((v) => Math.round(v / 1000)).join(", ")}`);
  }
  const [mosaicRate, coalescedRate, eagerRate, msgpackrRate] = contenders.map((c) => median(c.rates)) as [number, number, number, number];
  const common = {
    bench: BENCH,
    value: Math.round(mosaicRate),
    unit: "req/s",
    statistic: `median of ${ROUNDS} rounds of ${BATCH} requests in flight, round trips per second`,
    message_bytes: MESSAGE_BYTES,
  };
  emit({
    ...common,
    metric: "pipelined_requests_per_s",
    baseline: Math.round(coalescedRate),
    ratio: round(mosaicRate / coalescedRate, 3),
    baseline_kind: `raw Bun TCP, ${MESSAGE_BYTES} B messages echoed one by one, each side's messages of a tick in one write, same process`,
  });
  emit({
    ...common,
    metric: "pipelined_requests_per_s_vs_one_write_each",
    baseline: Math.round(eagerRate),
    ratio: round(mosaicRate / eagerRate, 3),
    baseline_kind: `raw Bun TCP, ${MESSAGE_BYTES} B messages echoed one by one, one socket.write() per message, same process`,
  });
  emit({
    ...common,
    metric: "pipelined_requests_per_s_vs_msgpackr_frames",
    baseline: Math.round(msgpackrRate),
    ratio: round(mosaicRate / msgpackrRate, 3),
    baseline_kind: "raw Bun TCP, [u32 length][msgpackr request/reply tuple] frames with the runtime's codec, coalesced per tick, no Connection",
  });
} finally {
  mosaic?.client.close();
  mosaic?.server.stop();
  for (const pair of raws) {
    pair.client.end();
    pair.listener.stop(true);
  }
  exitGuard(BENCH);
}
