import { logger } from "firebase-functions";
import { recipientsCollection } from "../messages/collection";
import { STATUS } from "../shared/contract";
import { SHARDS, WINDOW_SECONDS } from "../shared/params";
import { BURST_WINDOW_FACTOR, BurstMeter } from "./burst";
import { dispatchBatch } from "./dispatch";
import { enqueueBurst, enqueueImmediate, enqueueTrailing, windowOf } from "./tasks";
import { shardOf } from "./shards";

/**
 * What this instance has enqueued per message, shard and window: "now" once
 * the immediate task is asked for, "trailing" once the trailing one is too.
 * A burst of recipients then costs two enqueue calls per window, not one each.
 */
const known = new Map<string, { stage: "now" | "trailing"; expires: number }>();

/** How many new recipients of each message this instance has seen lately (burst.ts). */
const bursts = new BurstMeter();

/**
 * A new recipient: make sure a dispatch task for its message and shard runs
 * after it, without making it wait when nothing else is pending.
 *
 * The first recipient of a window gets an immediate task ("i", one id per
 * window), and its trigger sends that batch at once itself. A recipient whose
 * immediate task already exists may have been written after that task read
 * the shard, so it asks for the window's trailing task ("w"), scheduled for
 * the end of the window: a trailing task that exists has not run yet (Cloud
 * Tasks never runs a task early) and will see this recipient. A lone
 * recipient costs one task; a burst shares two per window. Once this
 * instance has seen more than twenty recipients of the message within a
 * window (burst.ts), it asks instead for one trailing task ("b") per shard
 * per window three times as long, and sends nothing inline: the batches of a
 * broadcast fill up rather than each claiming a few dozen.
 *
 * A trigger that runs late (its event older than two windows: a backlog of
 * triggers, as after a broadcast of thousands) first reads its recipient: if
 * it is no longer pending, a batch has taken it (claimed, sent, or backing
 * off with its retry scheduled by that batch), and there is nothing to ask
 * for. Otherwise late triggers would each add tasks that find nothing to
 * claim. A trigger on time pays no read.
 */
export async function onNewRecipient(messageId: string, recipientId: string, status: unknown, eventTime?: string): Promise<void> {
  if (status !== STATUS.pending) return;
  const now = Date.now();
  const windowSeconds = WINDOW_SECONDS.value();
  const eventMs = eventTime === undefined ? NaN : Date.parse(eventTime);
  if (now - eventMs > 2 * windowSeconds * 1000) {
    const current = await recipientsCollection(messageId).doc(recipientId).get();
    if (current.get("status") !== STATUS.pending) return;
  }
  const shard = shardOf(recipientId, SHARDS.value());
  const { window, delaySeconds } = windowOf(now, windowSeconds);
  if (bursts.record(messageId, window)) return askForBurstTask(messageId, shard, now, windowSeconds);
  const key = `${messageId}/${shard}/${window}`;
  const stage = known.get(key)?.stage;
  if (stage === "trailing") return;
  const expires = now + delaySeconds * 1000;
  const immediate = stage === undefined ? await enqueueImmediate(messageId, shard, window) : false;
  if (immediate) {
    known.set(key, { stage: "now", expires });
    // The fast path: this trigger sends the batch itself rather than waiting for the queue to
    // deliver the task. The task stays as the backstop (should this invocation die) and finds
    // nothing left to claim; claims are compare-and-set, so the two never send one recipient twice.
    try {
      await dispatchBatch({ messageId, shard }, immediate);
    } catch (err) {
      logger.warn("trigger: inline dispatch failed; its task will send the batch", { messageId, shard, error: err instanceof Error ? err.message : String(err) });
    }
  } else {
    await enqueueTrailing(messageId, shard, window, delaySeconds);
    known.set(key, { stage: "trailing", expires });
  }
  forgetExpired(now, window);
}

/** In a burst: the shard's trailing task for the current long window, once per instance. */
async function askForBurstTask(messageId: string, shard: number, now: number, windowSeconds: number): Promise<void> {
  const long = windowOf(now, windowSeconds * BURST_WINDOW_FACTOR);
  const key = `${messageId}/${shard}/b${long.window}`;
  if (known.has(key)) return;
  await enqueueBurst(messageId, shard, long.window, long.delaySeconds);
  known.set(key, { stage: "trailing", expires: now + long.delaySeconds * 1000 });
  forgetExpired(now, windowOf(now, windowSeconds).window);
}

function forgetExpired(now: number, window: number): void {
  for (const [entry, { expires: at }] of known) if (at < now) known.delete(entry);
  bursts.prune(window);
}
