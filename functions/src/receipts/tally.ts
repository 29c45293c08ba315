import { createHash } from "node:crypto";
import { Timestamp } from "firebase-admin/firestore";
import { getFunctions } from "firebase-admin/functions";
import { logger } from "firebase-functions";
import { z } from "zod";
import { windowOf } from "../delivery/tasks";
import { messageRef } from "../messages/collection";
import { receiptCounts, receiptsCollection, receiptSummaryRef } from "../messages/receipts";
import { receiptWrite } from "../ops/metrics";
import { TALLY_RECEIPTS_FUNCTION } from "../shared/contract";
import { adminApp } from "../shared/firestore";
import { RECEIPT_TALLY_SECONDS } from "../shared/params";
import { runTransaction } from "../shared/transaction";
import { announceReceipts } from "../webhooks/events";

/*
 * A message's receipt counts, aggregated rather than incremented. A
 * broadcast to a million devices draws thousands of acks a second: a counter
 * incremented per ack would take hundreds of writes a second per document,
 * far over Firestore's one a second. Instead each ack writes only its own
 * device's receipt, and asks for a tally of its message: one task per
 * message and window of RECEIPT_TALLY_SECONDS (its id says which, so the
 * other acks of the window are refused as task-already-exists), run at the
 * window's end. The tally counts the receipts with two count() aggregations
 * and stores the result on one summary document, adding what is new since
 * the last tally to the hour's metrics in the same transaction: every
 * receipt is counted once, and the summary takes at most one write per
 * window.
 */

export const tallyTask = z.strictObject({ messageId: z.string().min(1) });
export type TallyTask = z.infer<typeof tallyTask>;

/**
 * Asks for the tally of the message's current window; a second ask in the
 * same window is refused by Cloud Tasks (same id) and changes nothing. The
 * task runs after the window's end (Cloud Tasks never runs one early), so it
 * sees every receipt committed before this call.
 */
export async function enqueueTally(messageId: string, nowMs = Date.now()): Promise<void> {
  const seconds = Math.max(1, RECEIPT_TALLY_SECONDS.value());
  const { window, delaySeconds } = windowOf(nowMs, seconds);
  const id = `tally-${createHash("sha256").update([messageId, seconds, window].join("\u0000")).digest("hex").slice(0, 32)}`;
  try {
    await getFunctions(adminApp()).taskQueue(TALLY_RECEIPTS_FUNCTION).enqueue({ messageId } satisfies TallyTask, { id, scheduleDelaySeconds: Math.ceil(delaySeconds) });
  } catch (err) {
    if ((err as { code?: string }).code !== "functions/task-already-exists") throw err;
  }
}

/**
 * Counts the message's receipts and stores the counts, adding the growth to
 * the hour's metrics. Receipts are only ever added, so a count below the
 * stored one is a tally that read before another committed (two windows'
 * tasks side by side): the stored figure stands and nothing is added twice.
 * Safe to run twice: the second finds nothing new.
 */
export async function tallyReceipts(task: TallyTask): Promise<void> {
  const receipts = receiptsCollection(task.messageId);
  // Single-field filters: served by Firestore's automatic indexes, a read per 1,000 receipts counted.
  const [received, opened] = await Promise.all([
    receipts.where("receivedAt", "!=", null).count().get(),
    receipts.where("openedAt", "!=", null).count().get(),
  ]);
  const counted = { received: received.data().count, opened: opened.data().count };
  const added = await runTransaction("tallyReceipts", async (tx) => {
    const [message, summary] = await Promise.all([tx.get(messageRef(task.messageId)), tx.get(receiptSummaryRef(task.messageId))]);
    // A message the retention sweep deleted keeps no summary behind it.
    if (!message.exists) return undefined;
    const before = receiptCounts(summary.data());
    const after = { received: Math.max(before.received, counted.received), opened: Math.max(before.opened, counted.opened) };
    const growth = { received: after.received - before.received, opened: after.opened - before.opened };
    // Only a partner API key's message can have webhooks (webhooks/events.ts).
    const senderId: unknown = message.get("via") === "api" ? message.get("senderId") : undefined;
    // Nothing new: announced again all the same (the same counts make the same event id), so that a tally retried after its commit still announces.
    if (growth.received === 0 && growth.opened === 0) return { growth, after, senderId };
    tx.set(receiptSummaryRef(task.messageId), { ...after, talliedAt: Timestamp.now() }, { merge: true });
    const metrics = receiptWrite(growth);
    if (metrics) tx.set(metrics.ref, metrics.data, { merge: true });
    return { growth, after, senderId };
  });
  logger.info("receipts: tallied", { messageId: task.messageId, ...counted, added: added?.growth ?? null });
  if (added && added.after.received + added.after.opened > 0) await announceReceipts(task.messageId, typeof added.senderId === "string" ? added.senderId : undefined, added.after);
}
