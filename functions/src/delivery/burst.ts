/**
 * Whether a message's recipients are arriving in a burst, as one instance of
 * the recipient trigger sees them. Pure: the trigger keeps one meter per
 * instance and passes the window it computed.
 *
 * In a burst (a broadcast being expanded, a job writing thousands of rows) the
 * per-window "i" and "w" tasks of every shard would each claim a few dozen
 * recipients, or none at all once a full batch's continuation has taken them,
 * and each still pays a claim query. A burst instead asks for one trailing
 * task per shard per longer window, so batches fill up; a lone recipient, or
 * the first ones of a burst, still go at once.
 */

/** New recipients of one message seen by one instance within a window from which on they count as a burst. */
export const BURST_THRESHOLD = 20;
/** A burst's trailing windows are this many ordinary windows long. */
export const BURST_WINDOW_FACTOR = 3;

interface Seen {
  window: number;
  count: number;
  previous: number;
}

export class BurstMeter {
  private readonly seen = new Map<string, Seen>();

  /** Counts one new recipient of `messageId` in `window`; true while the message is in a burst (this window or the one before reached the threshold). */
  record(messageId: string, window: number): boolean {
    let entry = this.seen.get(messageId);
    if (!entry || entry.window < window - 1) {
      entry = { window, count: 0, previous: 0 };
      this.seen.set(messageId, entry);
    } else if (entry.window === window - 1) {
      entry.previous = entry.count;
      entry.count = 0;
      entry.window = window;
    }
    entry.count += 1;
    return entry.count > BURST_THRESHOLD || entry.previous > BURST_THRESHOLD;
  }

  /** Forgets messages not seen in this window or the one before. */
  prune(window: number): void {
    for (const [messageId, entry] of this.seen) if (entry.window < window - 1) this.seen.delete(messageId);
  }
}
