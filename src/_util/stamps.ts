/**
 * Date.now() for stamps made in bursts (the submit time of each call a loop
 * makes): read again after STAMPS stamps, and at the first stamp of every
 * task of the event loop. A reading costs ~46 ns here; a pipelined call ~900
 * ns of the head. Stamps are milliseconds since the epoch, as Date.now()
 * (whose resolution is a millisecond); within a run of calls they lag it by
 * at most the time STAMPS calls take (microseconds), unless one of them
 * blocks: whatever may take long (a copy of a large argument) calls
 * expireStamps() after it.
 */
const STAMPS = 16;
let stamp = 0;
let left = 0;
let expiring = false;

const expire = () => {
  left = 0;
  expiring = false;
};

export function stampNow(): number {
  if (left > 0) {
    left--;
    return stamp;
  }
  stamp = Date.now();
  left = STAMPS - 1;
  if (!expiring) {
    expiring = true;
    queueMicrotask(expire);
  }
  return stamp;
}

/** The next stamp reads the clock (something may have taken long since the last). */
export function expireStamps(): void {
  left = 0;
}
