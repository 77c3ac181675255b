/**
 * The head's `release` command (results and tesserae a worker can let go),
 * written by hand into the link's stage as call-message.ts writes calls: the
 * msgpack of [Command, "release", [[tessera, calls, ...], [task, ...]]], read
 * by the worker's generic decode. Packed by msgpackr, the id lists (up to
 * every task of a collection, two per pipelined call) cost more than
 * collecting them did.
 */
import { copyBytes } from "../../_util/copy-bytes.ts";
import { MessageKind } from "../../comms/protocol.ts";
import { arrayHeaderSize, uintSize, writeArrayHeader, writeUint } from "./msgpack-bytes.ts";

/** msgpack str "release". */
const RELEASE = Uint8Array.of(0xa7, ...new TextEncoder().encode("release"));

function listSize(ids: readonly number[]): number {
  let size = arrayHeaderSize(ids.length);
  for (let i = 0; i < ids.length; i++) size += uintSize(ids[i]!);
  return size;
}

function writeList(body: Uint8Array, at: number, ids: readonly number[]): number {
  at = writeArrayHeader(body, at, ids.length);
  for (let i = 0; i < ids.length; i++) at = writeUint(body, at, ids[i]!);
  return at;
}

/** The release message sized last by prepare(), written by encodeInto (a frame writer's BodyWriter). One at a time. */
export const RELEASE_MESSAGE = {
  tesserae: [] as readonly number[],
  tasks: [] as readonly number[],
  /** Sizes the message for these lists (non-negative integers): its length in bytes. */
  prepare(tesserae: readonly number[], tasks: readonly number[]): number {
    this.tesserae = tesserae;
    this.tasks = tasks;
    return 2 + RELEASE.length + 1 + listSize(tesserae) + listSize(tasks);
  },
  encodeInto(body: Uint8Array, at: number): void {
    body[at++] = 0x93; // [kind, "release", [tesserae, tasks]]
    body[at++] = MessageKind.Command;
    at = copyBytes(body, at, RELEASE);
    body[at++] = 0x92;
    at = writeList(body, at, this.tesserae);
    writeList(body, at, this.tasks);
    this.tesserae = this.tasks = [];
  },
};
