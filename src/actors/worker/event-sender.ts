/**
 * A worker's side of the event surface (see observe/events.ts): events are
 * produced here only while the head asked for their type (`observe`), and go
 * up in one `events` command per tick. Producers check one boolean of
 * `observing` first, so nobody listening costs nothing more.
 */
import { Batcher } from "../../_util/tick-batcher.ts";
import type { RuntimeEventType, WireEvent } from "../../observe/events.ts";
import type { RuntimeLinks } from "../links.ts";

export class EventSender {
  readonly observing = { spill: false, transfer: false, pressure: false };
  /** The wanted worker-side types, as the head last sent them (tessera threads get them too). */
  types: RuntimeEventType[] = [];
  /** Events sent up by the worker and its threads (one Int32, shared with the threads). */
  readonly counter = new SharedArrayBuffer(4);
  readonly #count = new Int32Array(this.counter);
  readonly #links: RuntimeLinks;
  readonly #batch = new Batcher<WireEvent>((events) => this.#send(events));

  constructor(links: RuntimeLinks) {
    this.#links = links;
  }

  observe(types: RuntimeEventType[]): void {
    this.types = types;
    this.observing.spill = types.includes("spill");
    this.observing.transfer = types.includes("transfer");
    this.observing.pressure = types.includes("memory.pressure");
  }

  emit(event: WireEvent): void {
    this.#batch.add(event);
  }

  /** Sends what is waiting now (before completions it must precede). */
  flush(): void {
    this.#batch.flush();
  }

  /** Events sent up so far (by this worker and its tessera threads). */
  get sent(): number {
    return Atomics.load(this.#count, 0);
  }

  #send(events: WireEvent[]): void {
    const head = this.#links.connection("head");
    if (!head?.isOpen) return; // the head is gone: nobody to tell
    Atomics.add(this.#count, 0, events.length);
    head.command("events", events);
  }
}
