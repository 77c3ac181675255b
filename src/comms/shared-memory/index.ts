/**
 * Large payloads between runtimes on the same machine go through files in
 * /dev/shm instead of the socket; the frame carries only the path.
 *
 * Pooled segments (the common case, pool.ts): the sender keeps a few files
 * mapped and copies a payload into one; the receiver maps it (private,
 * copy-on-write, no copy) and uses the bytes in place; when the receiver's
 * memory is garbage collected it hands the segment back (mappings.ts), and the
 * sender reuses it. Free segments are removed after some idle seconds
 * (segmentIdleTime).
 *
 * Shared arrays (arrays.ts): memory the program allocated in a segment of its
 * own, moved by name between runtimes and threads, never copied.
 *
 * One-shot segments (pool full, files.ts): written once, mapped or read by the
 * receiver and unlinked on arrival.
 *
 * Whatever was not handed back is removed by its sender when the connection
 * closes or the process stops, and by the cluster's other runtimes when its
 * head is gone. What the process holds is counted in accounting.ts.
 */
export {
  adoptSharedMemoryCounters,
  onThreadTrimRequest,
  requestThreadTrim,
  sharedMemoryCounters,
  sharedMemoryStats,
  threadRealm,
} from "./accounting.ts";
export {
  CLUSTER_ENV,
  clusterId,
  createSegmentSet,
  discardSegment,
  isArraySegment,
  isPooledSegment,
  isPooledSegmentOf,
  MACHINE_ID,
  removeClusterSegments,
  removeProcessSegments,
  type SegmentSet,
  sharedMemoryAvailable,
  SHM_DIRECTORY,
  SHM_MIN_BYTES,
  SHM_PATH_FIELD,
  writeSegment,
} from "./files.ts";
export { adoptSharedArray, allocateSharedMemory, handOverOrBytes, isSharedArrayPayload, payloadSize, sharedArrayBytes, sharedArrayMemory, takeSharedArrays } from "./arrays.ts";
export { collectSoon, collectYoungIfMapped, forgetMappedAhead, holdMapping, MAP_AHEAD_MIN_BYTES, mapAhead, mapSegment, warmKept, whenContentsFreed, whenUnmapped } from "./mappings.ts";
export {
  forgetSegments,
  isKeptCopy,
  keepInSegment,
  lendKept,
  lendCopy,
  lendSegment,
  releaseFreeSegments,
  removeSegments,
  returnSegment,
  scratchCopy,
  segmentIdleTime,
  setSegmentIdleTime,
  trimSegments,
  segmentCapacity,
  warmSegment,
  watchWarmSegments,
} from "./pool.ts";
export { finishReceive, readSegment, receiveTarget } from "./receive.ts";
