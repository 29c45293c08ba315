import { Timestamp } from "firebase-admin/firestore";
import { NO_ANSWER_STATUS, STATUS, type MessageState } from "../shared/contract";
import { expansionParts, messageStates, recipientsCollection } from "../messages/collection";
import { readCounters } from "../messages/counters";
import { readMachineTranslations } from "../languages/machine";
import { languagesFrom } from "../languages/report";
import { receiptCounts } from "../messages/receipts";
import { pauseNotice, readSwitch } from "../ops/pause";
import type { MessageReport } from "./schema";
import { assertMayManage, type Sender } from "./sender";

/** Codes the report counts one by one; any other code is in `other`. */
const REPORTED_CODES = [STATUS.pending, STATUS.inProcess, STATUS.cancelled, STATUS.skippedDisabled, STATUS.notRegistered, STATUS.accepted, 400, 403, 404, 429, 500, 503, NO_ANSWER_STATUS];

export type { MessageReport };

const iso = (t: Timestamp | null | undefined) => (t instanceof Timestamp ? t.toDate().toISOString() : null);

/**
 * The state and per-status counts of a message, from its outcome counters
 * (messages/counters.ts: at most 32 small documents, however large the
 * message) and its `recipientCount`. Recipients not final yet are the
 * difference; while there are any, one `count()` over the in-flight (-2)
 * recipients (a few batches' worth at most) splits them into -1 and -2. Only
 * a message written directly, which has no `recipientCount`, needs a `count()`
 * of all its recipients. While the audience is being expanded (`preparing`),
 * the parts' progress documents say how many are written so far. The
 * receipts' counts are a document among the counters (messages/receipts.ts):
 * read with them, no read more.
 */
export async function messageReport(sender: Sender, messageId: string): Promise<MessageReport> {
  const [snapshot, { finalCounts, receiptSummary, languages }, deliverySwitch, machine] = await Promise.all([messageStates().doc(messageId).get(), readCounters(messageId), readSwitch(), readMachineTranslations(messageId)]);
  const message = snapshot.data();
  assertMayManage(sender, message);
  const recipients = recipientsCollection(messageId);
  // With an audience, recipients are written by the expansion, which sets recipientsWrittenAt when done;
  // a message written directly without one (recipients by a job) has no such field and counts as written.
  const preparing = !message.invalid && message.audience !== undefined && !message.recipientsWrittenAt;
  const written = !preparing && message.recipientsWrittenAt !== null;
  const prepared = preparing ? (await expansionParts(messageId).get()).docs.reduce((sum, doc) => sum + doc.data().written, 0) : null;
  const all = prepared ?? (typeof message.recipientCount === "number" ? message.recipientCount : (await recipients.count().get()).data().count);
  const final = Object.values(finalCounts).reduce((sum, n) => sum + n, 0);
  const open = Math.max(0, all - final);
  const inProcess = open > 0 ? (await recipients.where("status", "==", STATUS.inProcess).count().get()).data().count : 0;
  const pending = open - Math.min(open, inProcess);
  const held = pending > 0 && message.urgency !== "emergency" ? await heldCounts(messageId) : { localTime: NOT_HELD, quietHours: NOT_HELD };
  const byCode: Record<string, number> = { ...finalCounts, [String(STATUS.pending)]: open - Math.min(open, inProcess), [String(STATUS.inProcess)]: Math.min(open, inProcess) };
  const counts: Record<string, number> = {};
  let known = 0;
  for (const code of REPORTED_CODES) {
    const count = byCode[String(code)] ?? 0;
    known += count;
    if (count > 0) counts[String(code)] = count;
  }
  let state: MessageState;
  if (message.cancelledAt) state = "cancelled";
  else if (message.invalid) state = "invalid";
  else if (message.sendAt && message.sendAt.toMillis() > Date.now()) state = "scheduled";
  else if (preparing) state = "preparing";
  else if (open === 0 && written) state = "done";
  else state = "sending";
  return {
    messageId,
    state,
    recipients: preparing ? null : all,
    prepared,
    invalid: message.invalid ?? null,
    counts,
    other: Math.max(0, all - known),
    receipts: receiptCounts(receiptSummary),
    held,
    urgency: message.urgency ?? "normal",
    sendAtLocal: message.sendAtLocal ?? null,
    createdAt: iso(message.createdAt),
    sendAt: iso(message.sendAt),
    cancelledAt: iso(message.cancelledAt),
    paused: pauseNotice(deliverySwitch),
    languages: languagesFrom(languages, machine),
  };
}

const NOT_HELD = { devices: 0, until: null };

/**
 * Pending recipients still waiting for their device's moment, per reason
 * (sending/hours.ts): a count() and the latest `heldUntil` each, over the
 * composite index (status, heldFor, heldUntil); asked only while recipients
 * are pending. A recipient whose moment has passed is not waiting any more,
 * even before a batch claims it.
 */
async function heldCounts(messageId: string): Promise<MessageReport["held"]> {
  const now = Timestamp.now();
  const [localTime, quietHours] = await Promise.all(
    (["localTime", "quietHours"] as const).map(async (reason) => {
      const waiting = recipientsCollection(messageId).where("status", "==", STATUS.pending).where("heldFor", "==", reason).where("heldUntil", ">", now);
      const [count, last] = await Promise.all([waiting.count().get(), waiting.orderBy("heldUntil", "desc").limit(1).get()]);
      const devices = count.data().count;
      return { devices, until: devices > 0 ? iso(last.docs[0]?.data().heldUntil) : null };
    }),
  );
  return { localTime: localTime ?? NOT_HELD, quietHours: quietHours ?? NOT_HELD };
}
