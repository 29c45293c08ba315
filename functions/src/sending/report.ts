import { Timestamp } from "firebase-admin/firestore";
import { NO_ANSWER_STATUS, STATUS, type MessageState } from "../shared/contract";
import { messagesCollection, recipientsCollection } from "../messages/collection";
import { readFinalCounts } from "../messages/counters";
import { pauseNotice, readSwitch } from "../ops/pause";
import { assertMayManage, type Sender } from "./sender";

/** Codes the report counts one by one; any other code is in `other`. */
const REPORTED_CODES = [STATUS.pending, STATUS.inProcess, STATUS.cancelled, STATUS.skippedDisabled, STATUS.notRegistered, STATUS.accepted, 400, 403, 404, 429, 500, 503, NO_ANSWER_STATUS];

export interface MessageReport {
  messageId: string;
  state: MessageState;
  /** All recipient documents. */
  recipients: number;
  /** Recipients per status code (codes with none are left out). */
  counts: Record<string, number>;
  /** Recipients with a code not listed in `counts`' known set. */
  other: number;
  createdAt: string | null;
  sendAt: string | null;
  cancelledAt: string | null;
  /** Set while the emergency stop holds all delivery: why, since when, by whom. */
  paused: { reason: string | null; since: string | null; by: string | null } | null;
}

const iso = (t: Timestamp | null | undefined) => (t instanceof Timestamp ? t.toDate().toISOString() : null);

/**
 * The state and per-status counts of a message, from its outcome counters
 * (messages/counters.ts: a handful of documents, one per shard, however large
 * the message) and its `recipientCount`. Recipients not final yet are the
 * difference; while there are any, one `count()` over the in-flight (-2)
 * recipients (a few batches' worth at most) splits them into -1 and -2. Only
 * a message written directly, which has no `recipientCount`, needs a `count()`
 * of all its recipients.
 */
export async function messageReport(sender: Sender, messageId: string): Promise<MessageReport> {
  const [snapshot, finalCounts, deliverySwitch] = await Promise.all([messagesCollection().doc(messageId).get(), readFinalCounts(messageId), readSwitch()]);
  const message = snapshot.data();
  assertMayManage(sender, message);
  const recipients = recipientsCollection(messageId);
  const all = typeof message.recipientCount === "number" ? message.recipientCount : (await recipients.count().get()).data().count;
  const final = Object.values(finalCounts).reduce((sum, n) => sum + n, 0);
  const open = Math.max(0, all - final);
  const inProcess = open > 0 ? (await recipients.where("status", "==", STATUS.inProcess).count().get()).data().count : 0;
  const byCode: Record<string, number> = { ...finalCounts, [String(STATUS.pending)]: open - Math.min(open, inProcess), [String(STATUS.inProcess)]: Math.min(open, inProcess) };
  const counts: Record<string, number> = {};
  let known = 0;
  for (const code of REPORTED_CODES) {
    const count = byCode[String(code)] ?? 0;
    known += count;
    if (count > 0) counts[String(code)] = count;
  }
  // A message written directly (no recipientsWrittenAt field at all) counts as fully written.
  const written = message.recipientsWrittenAt !== null;
  let state: MessageState;
  if (message.cancelledAt) state = "cancelled";
  else if (message.sendAt && message.sendAt.toMillis() > Date.now()) state = "scheduled";
  else if (open === 0 && written) state = "done";
  else state = "sending";
  return {
    messageId,
    state,
    recipients: all,
    counts,
    other: Math.max(0, all - known),
    createdAt: iso(message.createdAt),
    sendAt: iso(message.sendAt),
    cancelledAt: iso(message.cancelledAt),
    paused: pauseNotice(deliverySwitch),
  };
}
