/**
 * The one msgpackr codec of the runtime. Messages are tuples (see protocol.ts);
 * records are off so that any peer decodes any frame without shared state.
 */
import "./_native-off.ts";
import { Packr } from "msgpackr";
import { ProtocolError } from "../errors.ts";
import type { Message } from "./protocol.ts";

const packr = new Packr({ useRecords: false, moreTypes: true, mapsAsObjects: true });

export function encodeMessage(message: Message): Uint8Array {
  return packr.pack(message);
}

export function decodeMessage(bytes: Uint8Array): Message {
  let message: unknown;
  try {
    message = packr.unpack(bytes);
  } catch (error) {
    throw new ProtocolError(`malformed message body (${bytes.length} bytes): ${(error as Error).message}`);
  }
  if (!Array.isArray(message) || typeof message[0] !== "number") {
    throw new ProtocolError(`malformed message: expected a tuple with a numeric kind, got ${describeShape(message)}`);
  }
  return message as Message;
}

function describeShape(value: unknown): string {
  if (Array.isArray(value)) return `an array starting with ${typeof value[0]}`;
  return value === null ? "null" : typeof value;
}
