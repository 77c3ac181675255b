/**
 * A connection's large payloads through /dev/shm, when its peer is on this
 * machine: sent as segment paths (lent from the pool, passed on by name, or
 * written once; shared arrays by a name of their own), received by mapping or reading them, and handed back.
 */
import { Batcher } from "../_util/tick-batcher.ts";
import { processGone } from "../_util/process-state.ts";
import { ProtocolError } from "../errors.ts";
import { type OutgoingPayload, readPathField, type SharedSizes } from "./framing.ts";
import { MessageKind, type Message } from "./protocol.ts";
import {
  adoptSharedArray,
  createSegmentSet,
  discardSegment,
  forgetMappedAhead,
  forgetSegments,
  handOverOrBytes,
  holdMapping,
  isArraySegment,
  isPooledSegment,
  isPooledSegmentOf,
  isSharedArrayPayload,
  lendCopy,
  lendKept,
  lendSegment,
  MAP_AHEAD_MIN_BYTES,
  mapAhead,
  mapSegment,
  readSegment,
  removeSegments,
  returnSegment,
  SHM_MIN_BYTES,
  warmKept,
  watchWarmSegments,
  whenUnmapped,
  writeSegment,
} from "./shared-memory/index.ts";

export interface SharedPayloadsOptions {
  /** Sends a message to the peer (nothing once the connection is closed). */
  send(message: Message): void;
  /** The same, handed to the kernel now, ahead of anything the caller does next. */
  sendNow(message: Message): void;
  log(message: string): void;
  /** Memory that payloads are read into, when the runtime reads them (see readShared). */
  allocate: ((bytes: number) => Uint8Array) | undefined;
  /** Whether payloads of `method` are read into `allocate`'s memory (true) or mapped (see ConnectionHandler). */
  readShared(method: string | undefined, pooled: boolean): boolean;
  /** Whether mappings may be passed on by name (see ConnectionHandler.passesOnMappedPayloads). */
  passable(): boolean;
  /** Whether segments the peer announces are mapped ahead of their message (see ConnectionHandler.mapsSharedAhead). */
  mapsAhead(): boolean;
  /** Whether segments the peer prepared in idle time are mapped here ahead of any payload (see ConnectionHandler.mapsWarmSegments). */
  mapsWarm(): boolean;
}

export class SharedPayloads {
  readonly #options: SharedPayloadsOptions;
  /** One-shot segments written for the peer: removed when the link closes (it will not map them any more). */
  #segments = createSegmentSet();
  /** Segments mapped here (lent by someone else) that were passed on to the peer by name: released when it hands them back. */
  #passedOn = new Map<string, (() => void)[]>();
  /** Pooled segments of the peer's that this side is done with, handed back once per tick. */
  #freed: Batcher<string>;

  constructor(options: SharedPayloadsOptions) {
    this.#options = options;
    this.#freed = new Batcher((paths) => options.send([MessageKind.SegmentsFree, paths]));
  }

  /** Large payloads become segment paths; the rest (and what /dev/shm cannot take) go over the socket. */
  outgoing(payloads: Uint8Array[], lasting = false): OutgoingPayload[] {
    return payloads.map((payload) => {
      if (isSharedArrayPayload(payload)) {
        const handed = handOverOrBytes(payload);
        if (!(handed instanceof Uint8Array)) {
          // A name of its own for the peer, removed with the link if it never takes it.
          this.#segments.set(handed.path, true);
          return handed;
        }
        payload = handed; // its file is gone: copied as any payload
      }
      if (payload.byteLength < SHM_MIN_BYTES) return payload;
      // A copy a waiting call kept in a pooled segment of this process's: that segment, lent to this link.
      const kept = lendKept(payload, this);
      if (kept) return kept;
      // Already in a pooled segment (mapped here): passed on by name, held until the peer hands it back.
      const held = holdMapping(payload);
      if (held) {
        let releases = this.#passedOn.get(held.path);
        if (!releases) this.#passedOn.set(held.path, (releases = []));
        releases.push(held.release);
        return { path: held.path, size: payload.byteLength };
      }
      const size = payload.byteLength;
      // Large ones are announced before the copy: the peer maps the segment meanwhile.
      const announce = size >= MAP_AHEAD_MIN_BYTES ? (path: string) => this.#options.sendNow([MessageKind.SegmentAhead, path, size]) : undefined;
      try {
        // An object put (lasting) takes a segment of about its size; an argument sent again unchanged, the same one.
        const lent = lasting ? lendSegment(payload, this, true, true, announce) : lendCopy(payload, this, true, announce);
        return { path: lent?.path ?? writeSegment(payload, this.#segments), size };
      } catch (error) {
        // /dev/shm full (or unusable): this payload takes the socket.
        this.#options.log(`shared memory unavailable for ${payload.byteLength} bytes (${(error as Error).message}): sending over the socket`);
        return payload;
      }
    });
  }

  /**
   * Payloads that came through /dev/shm: mapped (no copy), or read into memory
   * from the runtime's allocator when it asks for that (workers: shared memory
   * for their threads, where the kernel's copy beats mapping and copying).
   * Throws ProtocolError when one cannot be had (the message fails, not the link).
   */
  receive(message: Message, payloads: Uint8Array[], shared: NonNullable<SharedSizes>, peerName: string): void {
    const method = message[0] === MessageKind.Request ? message[2] : message[0] === MessageKind.Command ? message[1] : undefined;
    const { allocate } = this.#options;
    let failure: ProtocolError | undefined;
    for (let i = 0; i < shared.length; i++) {
      const size = shared[i];
      if (size === undefined) continue;
      const path = readPathField(payloads[i]!);
      const pooled = isPooledSegment(path);
      if (failure) {
        // The message fails anyway: its other segments go back (pooled) or away (one-shot) all the same.
        this.#dismiss(path);
        continue;
      }
      const read = allocate !== undefined && this.#options.readShared(method, pooled);
      try {
        if (isArraySegment(path)) payloads[i] = adoptSharedArray(path, size);
        else if (!pooled) payloads[i] = read ? readSegment(path, size, allocate) : mapSegment(path, size);
        else if (read) {
          payloads[i] = readSegment(path, size, allocate);
          this.giveBack(path);
        } else {
          // Used in place: the sender gets the segment back once this memory is collected.
          const bytes = mapSegment(path, size);
          whenUnmapped(bytes, path, () => this.giveBack(path), this.#options.passable());
          payloads[i] = bytes;
        }
      } catch (error) {
        if (pooled) this.giveBack(path);
        failure = new ProtocolError(`${peerName} sent a shared-memory payload that cannot be mapped: ${(error as Error).message}`);
      }
    }
    if (failure) throw failure;
  }

  /** The peer announced a payload it is copying into its segment `path` (see mapAhead). */
  onSegmentAhead(path: unknown, size: unknown): void {
    if (!this.#options.mapsAhead() || typeof path !== "string" || !Number.isSafeInteger(size) || (size as number) <= 0) return;
    mapAhead(path, size as number);
  }

  /** Stops telling the peer of this thread's warm segments (watchWarmSegments), once started. */
  #unwatchWarm: (() => void) | undefined;

  /**
   * The link is up: the peer is told the segments this thread prepared in
   * idle time for its first large payloads (warmPool), now and as they are
   * made, so that it can map them and touch their pages before one comes.
   */
  announceWarmSegments(): void {
    this.#unwatchWarm ??= watchWarmSegments((path, capacity) => this.#options.send([MessageKind.SegmentWarm, path, capacity]));
  }

  /** The peer (process `peerPid`) prepared its segment `path` for its first large payloads (see warmKept): only a segment of its own. */
  onSegmentWarm(path: unknown, size: unknown, peerPid: number): void {
    if (!this.#options.mapsWarm() || typeof path !== "string" || !isPooledSegmentOf(path, peerPid) || !Number.isSafeInteger(size) || (size as number) <= 0) return;
    warmKept(path, size as number);
  }

  /** Segments of a message that will not be read: pooled ones go back to the peer, one-shot ones are removed. */
  dismiss(paths: string[]): void {
    for (const path of paths) this.#dismiss(path);
  }

  #dismiss(path: string): void {
    if (isPooledSegment(path)) this.giveBack(path);
    else discardSegment(path);
  }

  /** Hands a pooled segment back to the peer that lent it (batched per tick). */
  giveBack(path: string): void {
    // Its message did not take a mapping made ahead (refused, read, unreadable): that one goes too.
    forgetMappedAhead(path);
    this.#freed.add(path);
  }

  /** The peer is done with these segments: ours go back to the pool, held ones passed on are released. */
  onSegmentsFree(paths: unknown): void {
    if (!Array.isArray(paths)) throw new ProtocolError("segments-free message without a list of paths");
    for (const path of paths) {
      if (typeof path !== "string") continue;
      const releases = this.#passedOn.get(path);
      if (!releases) returnSegment(path, this);
      else {
        releases.pop()!();
        if (releases.length === 0) this.#passedOn.delete(path);
      }
    }
  }

  /**
   * The link closed: the peer will not map what it has not received by now.
   * What it borrowed is not taken back for reuse (a peer whose link closed may
   * be alive and still map it): segments of our pool leave it, and holds on
   * segments we passed on stay until the peer's process (`peerPid`) is gone.
   */
  close(peerPid: number | undefined): void {
    this.#unwatchWarm?.();
    removeSegments(this.#segments);
    forgetSegments(this);
    this.#releasePassedOnWhenGone(peerPid);
  }

  /**
   * Holds on segments passed on to a peer whose link closed are released once
   * its process is seen gone (it maps nothing any more; its socket closes
   * while it exits, a moment before that shows), checked a few times over
   * about a minute. A peer still running after that keeps them.
   */
  #releasePassedOnWhenGone(pid: number | undefined, delays = [50, 500, 5_000, 60_000]): void {
    if (this.#passedOn.size === 0 || pid === undefined || pid === process.pid) return;
    const [delay, ...later] = delays;
    if (delay === undefined) return;
    setTimeout(() => {
      if (!processGone(pid)) return this.#releasePassedOnWhenGone(pid, later);
      for (const releases of this.#passedOn.values()) for (const release of releases) release();
      this.#passedOn.clear();
    }, delay).unref();
  }
}
