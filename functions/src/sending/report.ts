import { Timestamp } from "firebase-admin/firestore";
import { NO_ANSWER_STATUS, STATUS, type MessageState } from "../shared/contract";
import { messagesCollection, recipientsCollection } from "../messages/collection";
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
}

const iso = (t: Timestamp | null | undefined) => (t instanceof Timestamp ? t.toDate().toISOString() : null);

/**
 * The state and per-status counts of a message, from Firestore `count()`
 * aggregations: one index scan per code, billed at one read per 1,000
 * entries, instead of reading every recipient of a large message.
 */
export async function messageReport(sender: Sender, messageId: string): Promise<MessageReport> {
  const message = (await messagesCollection().doc(messageId).get()).data();
  assertMayManage(sender, message);
  const recipients = recipientsCollection(messageId);
  const [total, ...perCode] = await Promise.all([
    recipients.count().get(),
    ...REPORTED_CODES.map((code) => recipients.where("status", "==", code).count().get()),
  ]);
  const counts: Record<string, number> = {};
  let known = 0;
  REPORTED_CODES.forEach((code, i) => {
    const count = perCode[i]?.data().count ?? 0;
    known += count;
    if (count > 0) counts[String(code)] = count;
  });
  const all = total?.data().count ?? 0;
  const open = (counts[String(STATUS.pending)] ?? 0) + (counts[String(STATUS.inProcess)] ?? 0);
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
    other: all - known,
    createdAt: iso(message.createdAt),
    sendAt: iso(message.sendAt),
    cancelledAt: iso(message.cancelledAt),
  };
}
