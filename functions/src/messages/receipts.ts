import { Timestamp } from "firebase-admin/firestore";
import { z } from "zod";
import { COLLECTIONS, RECEIPTS_SUMMARY_ID } from "../shared/contract";
import { typedCollection, zTimestamp } from "../shared/firestore";
import { countersCollection } from "./counters";

/*
 * What the apps report about a message: one document per device that acked
 * it, `messages/{messageId}/receipts/{deviceId}`, each written by its own
 * device's acks only (no document shared by two devices), and a summary of
 * their counts among the message's counters, written by the tally task
 * (receipts/tally.ts) at most once per tally window. A report reads the
 * summary with the counters it reads anyway: no read per receipt.
 */

/** `messages/{messageId}/receipts/{deviceId}`: when the app said the notification arrived, and when it was tapped. */
export const receiptDoc = z.object({
  receivedAt: zTimestamp.nullable().optional(),
  openedAt: zTimestamp.nullable().optional(),
  updatedAt: zTimestamp.optional(),
});
export type ReceiptDoc = z.infer<typeof receiptDoc>;

export function receiptsCollection(messageId: string) {
  return typedCollection(`${COLLECTIONS.messages}/${messageId}/${COLLECTIONS.receipts}`, receiptDoc);
}

/** `messages/{messageId}/counters/receipts`: receipts counted by the last tally. */
export const receiptSummaryDoc = z.object({
  received: z.number().int().min(0).default(0),
  opened: z.number().int().min(0).default(0),
  talliedAt: zTimestamp.optional(),
});
export type ReceiptSummaryDoc = z.infer<typeof receiptSummaryDoc>;

export function receiptSummaryRef(messageId: string) {
  return countersCollection(messageId).doc(RECEIPTS_SUMMARY_ID);
}

/** The counts a summary document holds; none yet (no tally ran) is zero. */
export function receiptCounts(data: unknown): { received: number; opened: number } {
  const parsed = receiptSummaryDoc.safeParse(data ?? {});
  return parsed.success ? { received: parsed.data.received, opened: parsed.data.opened } : { received: 0, opened: 0 };
}

const iso = (t: Timestamp | null | undefined) => (t instanceof Timestamp ? t.toDate().toISOString() : null);

/** A device's receipt times as clients read them (ISO 8601, or null when not reported). */
export function receiptTimes(receipt: ReceiptDoc | undefined): { receivedAt: string | null; openedAt: string | null } {
  return { receivedAt: iso(receipt?.receivedAt), openedAt: iso(receipt?.openedAt) };
}
