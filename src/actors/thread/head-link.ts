/**
 * A tessera thread's own link to the head: calls come straight in over it
 * (without dependencies, or with their values, which the head had), completions
 * and console lines go straight out (see outbox.ts). Without it (no address, or
 * the dial fails) everything goes through the worker's main thread.
 */
import type { ConnectionHandler } from "../../comms/connection.ts";
import { fitsMemory } from "../../comms/memory-budget.ts";
import { MACHINE_ID, receiveTarget } from "../../comms/shared-memory/index.ts";
import { connectTcp } from "../../comms/transports/tcp.ts";
import { ProtocolError, UnknownMethodError } from "../../errors.ts";
import { threadUid } from "../../types.ts";
import { onOp } from "./executor.ts";
import { describeFailure, emit, headLink, observing, settle, useHeadLink, wantResult } from "./outbox.ts";
import type { RuntimeEventType } from "../../observe/events.ts";
import { Op } from "./protocol.ts";
import { decodeCallMessage, type InlinePlaces, type PlainCall } from "../wire/call-message.ts";
import { nestedLink, type NestedSettled } from "../nested-link.ts";
import { threadData, threadIndex, workerUid } from "./thread-data.ts";

/** What readCommand names the calls it read by hand (never a command's name on the wire). */
const READ_BY_HAND = "call (read by hand)";
const readByHand: [string, unknown] = [READ_BY_HAND, undefined];

const headHandler: ConnectionHandler = {
  onRequest(_connection, method) {
    // The head lets go of what it held for this thread once it has read the holds sent before this reply.
    if (method === "caughtUp") return null;
    throw new UnknownMethodError(method, threadUid(workerUid, threadIndex));
  },
  // Large arrays from the head are used where they arrived (a mapped shared-memory segment): no copy.
  readSharedPayloads: () => false,
  // ... and mapped while the head copies them into its segment.
  mapsSharedAhead: true,
  // ... and the head's segment prepared for its first large argument (warmPool) mapped and touched in idle time, by a
  // worker's first thread (the one that prepares a segment for its first result): its first tessera's.
  mapsWarmSegments: threadIndex === 0,
  // Calls without arguments of 1 KiB or more (most of them) are read by hand.
  readCommand(body, start, end) {
    const call = decodeCallMessage(body, start, end);
    if (!call) return undefined;
    // Its arguments are a copy already (see onCommand). The pair is read at once by the connection: one for all.
    readByHand[1] = call;
    return readByHand;
  },
  // Calls without dependencies to resolve, straight from the head.
  onCommand(_connection, method, args, payloads, rejected) {
    // The head says here too what it observes: on this link, ahead of the calls that follow it.
    if (method === "observe") return onOp([Op.Observe, args as RuntimeEventType[]]);
    // Nested calls this thread's methods made have settled.
    if (method === "nested") return nestedLink.onSettled?.(args as NestedSettled);
    // The head's program waits for this call's result: it goes with the completion (see outbox.ts's wanted).
    if (method === "want") return wantResult(args);
    if (method !== "call" && method !== READ_BY_HAND) return;
    const [tessera, task, name, bytes, refs, seq, places] = args as PlainCall | [number, number, string, Uint8Array, unknown[], number, InlinePlaces?];
    if (rejected) {
      // Its arguments did not fit the worker's memory: it fails, and the calls after it still run.
      settle(task, true, undefined, describeFailure(rejected));
      return onOp([Op.Skip, tessera, seq]);
    }
    if (refs.length > 0) {
      // Dependencies to resolve are the worker's main thread's: the head never sends those here.
      settle(task, true, undefined, describeFailure(new ProtocolError(`call #${task} with dependencies to resolve came straight to a tessera thread`)));
      return onOp([Op.Skip, tessera, seq]);
    }
    // Read the generic way, the bytes are a view of a received chunk: the call may wait its turn, so it keeps a copy
    // (a view would keep the whole chunk, up to 512 KiB, alive while it waits, whatever else it held); read by hand,
    // they are a copy already. Its dependency values follow the arguments there: run as the main thread would have
    // posted it.
    onOp([Op.Call, tessera, task, name, [method === READ_BY_HAND ? bytes : bytes.slice(), payloads], places ?? null, true, seq]);
  },
  onPayloads(_connection, sharedBytes, socketBytes, wireBytes) {
    if (!observing.transfer) return;
    const time = Date.now();
    if (sharedBytes > 0) emit({ type: "transfer", from: "head", to: workerUid, bytes: sharedBytes, route: "shm", time });
    if (socketBytes > 0) emit({ type: "transfer", from: "head", to: workerUid, bytes: socketBytes, route: "tcp", wireBytes, time });
  },
};

/** Payloads from the head are taken only within the worker's budget; a refusal is memory pressure. */
function admit(bytes: number): boolean {
  const limit = threadData?.memoryLimit;
  if (limit === undefined || fitsMemory(bytes, limit)) return true;
  if (observing.pressure) emit({ type: "memory.pressure", runtime: workerUid, requested: bytes, limit, time: Date.now() });
  return false;
}

/** Dials the head; resolves either way (without a link, the main thread carries everything). */
export async function dialHead(): Promise<void> {
  const target = threadData?.head;
  if (!target) return;
  try {
    const link = await connectTcp(target.address, target.port, {
      self: { uid: threadUid(workerUid, threadIndex), address: target.address, port: 0, pid: process.pid, machine: MACHINE_ID },
      secret: target.secret,
      handler: headHandler,
      log: () => {},
      expectedPeer: "head",
      // Arrays land in shared memory here too (the worker's main thread may serve them), within the worker's budget.
      allocate: (bytes) => receiveTarget(bytes) ?? new Uint8Array(new SharedArrayBuffer(bytes)),
      admit,
    }, { socket: target.socket, machine: target.machine });
    useHeadLink(link);
    nestedLink.connection = link;
    void link.closed.then(() => {
      if (headLink() === link) useHeadLink(undefined);
      if (nestedLink.connection === link) nestedLink.connection = undefined;
    });
  } catch {
    useHeadLink(undefined);
  }
}
