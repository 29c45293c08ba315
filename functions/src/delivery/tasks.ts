import { createHash } from "node:crypto";
import { Timestamp } from "firebase-admin/firestore";
import { getFunctions } from "firebase-admin/functions";
import { z } from "zod";
import { DISPATCH_FUNCTION, RECORD_PAGE_FUNCTION } from "../shared/contract";
import { adminApp } from "../shared/firestore";

/** What a dispatch task carries: one message, one shard of it, and where in the shard to go on from. */
export const dispatchTask = z.strictObject({
  messageId: z.string().min(1),
  shard: z.number().int().min(0),
  after: z.string().optional(),
  /** Since when (ms) this shard has waited for a message document that does not exist yet. */
  waitingSince: z.number().optional(),
  /** How many times in a row claims failed for another reason than a rival claim. */
  contended: z.number().int().min(0).optional(),
});
export type DispatchTask = z.infer<typeof dispatchTask>;

/*
 * Every dispatch task is enqueued here, under a deterministic id, so that the
 * same request made twice (thousands of triggers of one message, a task
 * delivered twice) yields one task. The id's first letter names its scheme:
 *
 * | id      | made by                      | keyed by                   | runs                |
 * |---------|------------------------------|----------------------------|---------------------|
 * | i       | trigger, first of a window   | message, shard, window     | at once             |
 * | w       | trigger, later in a window   | message, shard, window     | at the window's end |
 * | b       | trigger, in a burst          | message, shard, 3× window  | at the window's end |
 * | c       | dispatch, batch was full     | shard, cursor, window      | at once             |
 * | r       | dispatch, backoff / waiting  | shard, second, this task   | when due            |
 * | t       | dispatch, message scheduled  | message, shard, sendAt     | at sendAt           |
 * | h       | dispatch, recipients held    | message, shard, second     | when the first is   |
 * |         | for their devices' hours     |                            | due                 |
 * | s / u   | sweep / resume re-dispatch   | message, shard, window     | at the window's end |
 *
 * and, on the record queue (`recordPage`), "p": a sent page's recipient
 * documents, keyed by message, page and attempt (enqueueRecordPage below).
 *
 * A task scheduled for the end of its window that already exists has not run
 * yet (Cloud Tasks never runs a task early), so it will see every recipient
 * made pending before the enqueue. Ids that include the scheduling task's own
 * id ("r") let a task that ran a moment early schedule the next one, while a
 * duplicate delivery of the same task adds nothing. "t" leaves the task's id
 * out on purpose: every task of a held shard asks for the same one, so a
 * scheduled message costs one task per shard however long it waits. (A "t"
 * task that runs before sendAt, which only the emulator does, would otherwise
 * schedule another at once, and that one another: the spin of old.)
 */

function hash(...parts: Array<string | number>): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 32);
}

/** Returns the task's id, or false when that task already exists. */
async function enqueue(task: DispatchTask, scheme: string, idParts: Array<string | number>, delaySeconds: number): Promise<string | false> {
  const queue = getFunctions(adminApp()).taskQueue(DISPATCH_FUNCTION);
  const id = `${scheme}-${hash(task.messageId, task.shard, task.after ?? "", scheme, ...idParts)}`;
  try {
    await queue.enqueue(task, { id, scheduleDelaySeconds: Math.max(0, Math.ceil(delaySeconds)) });
    return id;
  } catch (err) {
    if ((err as { code?: string }).code === "functions/task-already-exists") return false;
    throw err;
  }
}

/** Seconds until the end of the current window of `windowSeconds`, plus a margin for clock skew. */
export function windowOf(nowMs: number, windowSeconds: number): { window: number; delaySeconds: number } {
  const windowMs = Math.max(1, windowSeconds) * 1000;
  const window = Math.floor(nowMs / windowMs);
  return { window, delaySeconds: ((window + 1) * windowMs - nowMs) / 1000 + 1 };
}

/** "i": the window's first recipient of a shard; runs at once (its trigger also sends the batch inline). */
export function enqueueImmediate(messageId: string, shard: number, window: number): Promise<string | false> {
  return enqueue({ messageId, shard }, "i", [window], 0);
}

/** "w": the window's trailing task, for recipients written after the immediate task read the shard. */
export function enqueueTrailing(messageId: string, shard: number, window: number, delaySeconds: number): Promise<string | false> {
  return enqueue({ messageId, shard }, "w", [window], delaySeconds);
}

/** "b": a burst's trailing task for a shard (delivery/burst.ts), over a window BURST_WINDOW_FACTOR times as long. */
export function enqueueBurst(messageId: string, shard: number, longWindow: number, delaySeconds: number): Promise<string | false> {
  return enqueue({ messageId, shard }, "b", [longWindow], delaySeconds);
}

/** "c": the rest of a shard after a full batch, from the cursor on; runs at once. */
export function enqueueContinuation(task: DispatchTask, after: string, window: number): Promise<string | false> {
  const { messageId, shard, waitingSince } = task;
  return enqueue({ messageId, shard, after, ...(waitingSince !== undefined && { waitingSince }) }, "c", [window], 0);
}

function atSecond(at: Timestamp): { seconds: number; delaySeconds: number } {
  const seconds = Math.ceil(at.toMillis() / 1000);
  return { seconds, delaySeconds: seconds - Date.now() / 1000 };
}

/** "r": the shard again once a backoff (or a wait for the message document) is over. */
export function enqueueRetry(task: DispatchTask, taskId: string, at: Timestamp): Promise<string | false> {
  const { messageId, shard, waitingSince, contended } = task;
  const { seconds, delaySeconds } = atSecond(at);
  return enqueue({ messageId, shard, ...(waitingSince !== undefined && { waitingSince }), ...(contended !== undefined && { contended }) }, "r", [seconds, taskId], delaySeconds);
}

/** "t": a scheduled message's shard, held until its sendAt; one per (message, shard, sendAt). */
export function enqueueAtSendAt(task: DispatchTask, sendAt: Timestamp): Promise<string | false> {
  const { seconds, delaySeconds } = atSecond(sendAt);
  return enqueue({ messageId: task.messageId, shard: task.shard }, "t", [seconds], delaySeconds);
}

/**
 * "h": a shard whose earliest pending recipient is held for its device's
 * local time or quiet hours (sending/hours.ts), minutes or hours ahead; one
 * per (message, shard, second), like "t": every task that finds the shard
 * held asks for the same one, and one the emulator runs early finds itself
 * there (locally the sweep's pending pass sends what is due, as for sendAt).
 */
export function enqueueHeld(task: DispatchTask, at: Timestamp): Promise<string | false> {
  const { seconds, delaySeconds } = atSecond(at);
  return enqueue({ messageId: task.messageId, shard: task.shard }, "h", [seconds], delaySeconds);
}

/** "s" (sweep) or "u" (resume): a shard with pending recipients found by a pass over messages. */
export function enqueueRedispatch(scheme: "s" | "u", messageId: string, shard: number, window: number, delaySeconds: number): Promise<string | false> {
  return enqueue({ messageId, shard }, scheme, [window], delaySeconds);
}

/** What a record task carries: the page whose outcomes become recipient documents (delivery/pages.ts). */
export const recordPageTask = z.strictObject({
  messageId: z.string().min(1),
  pageId: z.string().min(1),
});
export type RecordPageTask = z.infer<typeof recordPageTask>;

/**
 * "p", on the record queue: a sent page's recipient documents, once per
 * (message, page, attempt), at once. An expansion part that finds its page
 * already sent asks again and gets nothing new; a page sent again after a
 * takeover (attempt 2) gets a task of its own.
 */
export async function enqueueRecordPage(task: RecordPageTask, attempt: number): Promise<void> {
  const id = `p-${hash(task.messageId, task.pageId, attempt)}`;
  try {
    await getFunctions(adminApp()).taskQueue(RECORD_PAGE_FUNCTION).enqueue(task, { id });
  } catch (err) {
    if ((err as { code?: string }).code !== "functions/task-already-exists") throw err;
  }
}
