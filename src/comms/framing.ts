/**
 * Length-prefixed frames over a byte stream, in both directions.
 *
 * A frame is [u32 LE body length][u8 kind][body]. A `MessageWithPayloads`
 * frame is followed by raw payloads (typed-array bytes) that never pass through
 * msgpackr: the writer hands them to the socket as they are and the reader
 * copies them once, from the socket chunks straight into their final memory.
 * A payload in a shared-memory segment crosses as its path, in a field of
 * SHM_PATH_FIELD bytes.
 */
export { type BodyWriter, type ByteSink, FrameWriter, type OutgoingPayload, type SharedPayload } from "./frame-writer.ts";
export {
  allocateArrayBuffer,
  type FrameLimits,
  FrameReader,
  type PayloadAllocator,
  readPathField,
  type RejectedPayloads,
  type SharedSizes,
} from "./frame-reader.ts";
