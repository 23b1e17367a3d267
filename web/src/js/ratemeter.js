// Tokens per second of a reply as it is generated (deltas per second, close to tokens for most models).
//
// Only live deltas count. After (re)connecting, the server first replays what the page missed: a reload
// or a switch back to the conversation replays the whole reply so far, a dropped connection what came
// during the gap. Those arrive in a burst, a few reads in a row with no pause, and counting them made a
// resumed 50 tok/s reply show 103 tok/s (issue 12). So after each connection the meter waits for the
// burst to end -- the first pause between two reads -- or for REPLAY_MAX_MS, before counting.

const WINDOW_MS = 2000; // the rate shown is over the last two seconds
const MIN_SPAN_MS = 250; // no rate before a quarter second of live text
const PAUSE_MS = 15; // a pause this long between two reads ends a replay burst
const REPLAY_MAX_MS = 1000; // ...and a replay never lasts longer than this

export class RateMeter {
  constructor() {
    this.times = [];
    this.first = 0; // arrival of the first live delta
    this.last = 0; // arrival of the latest live delta
    this.live = 0; // live deltas in all
    this.replaying = false;
    this.connectedAt = 0;
    this.lastReadAt = 0;
  }

  /** A (re)connection: what comes first is a replay until the burst ends. */
  connected(now = performance.now()) {
    this.replaying = true;
    this.connectedAt = now;
    this.lastReadAt = now;
    this.times = []; // the window restarts: a gap without a connection is not a slow rate
    this.first = 0;
  }

  /** Bytes arrived (any read of the stream, keep-alives included). */
  read(now = performance.now()) {
    if (this.replaying && (now - this.lastReadAt >= PAUSE_MS || now - this.connectedAt >= REPLAY_MAX_MS)) {
      this.replaying = false;
    }
    this.lastReadAt = now;
  }

  /** One delta arrived; false if it was part of a replay (not counted). */
  tick(now = performance.now()) {
    if (this.replaying) return false;
    if (!this.first) this.first = now;
    this.last = now;
    this.live += 1;
    this.times.push(now);
    while (this.times.length && now - this.times[0] > WINDOW_MS) this.times.shift();
    return true;
  }

  /** Live deltas per second over the last two seconds, or null while there is too little to tell. */
  rate(now = performance.now()) {
    while (this.times.length && now - this.times[0] > WINDOW_MS) this.times.shift();
    const span = Math.min(WINDOW_MS, now - this.first);
    if (!this.first || !this.times.length || span < MIN_SPAN_MS) return null;
    return (this.times.length * 1000) / span;
  }
}
