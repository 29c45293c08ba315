import { Timestamp, type DocumentReference } from "firebase-admin/firestore";
import { COLLECTIONS } from "../shared/contract";
import { db } from "../shared/firestore";
import { daysBefore, outOfTime, type SweepContext } from "./context";

/** Recipients deleted per page. No transaction is involved, so this may exceed the transaction page size. */
const RECIPIENT_DELETE_PAGE = 500;

export interface MessagePass {
  messagesDeleted: number;
  recipientsDeleted: number;
  done: boolean;
}

/**
 * Messages older than `retentionDays` are deleted with their recipients
 * and receipts. Those go first, a page at a time, and the message document last, so a
 * run that stops part-way (time budget, crash) leaves a message that the next
 * run finds again by its `createdAt` and finishes. Deletes are idempotent, so
 * two sweeps on the same message only duplicate work. Index: the automatic
 * single-field index on messages.createdAt.
 */
export async function deleteOldMessages(ctx: SweepContext, retentionDays: number): Promise<MessagePass> {
  const result: MessagePass = { messagesDeleted: 0, recipientsDeleted: 0, done: false };
  const cutoff = Timestamp.fromMillis(daysBefore(ctx.now, retentionDays));
  const query = db().collection(COLLECTIONS.messages).where("createdAt", "<", cutoff).orderBy("createdAt").select().limit(ctx.pageSize);
  while (!outOfTime(ctx)) {
    // No cursor: every message of a page is deleted before the next query, unless time ran out, which ends the run.
    const page = await query.get();
    for (const message of page.docs) {
      if (!(await deleteMessage(message.ref, ctx, result))) return result;
    }
    if (page.size < ctx.pageSize) {
      result.done = true;
      break;
    }
  }
  return result;
}

/** True when the message and all its recipients are gone; false when time ran out first. */
async function deleteMessage(message: DocumentReference, ctx: SweepContext, result: MessagePass): Promise<boolean> {
  // Recipients (counted) and the apps' receipts: as many as the audience, so a page at a time.
  for (const name of [COLLECTIONS.recipients, COLLECTIONS.receipts]) {
    const docs = message.collection(name).select().limit(RECIPIENT_DELETE_PAGE);
    for (;;) {
      if (outOfTime(ctx)) return false;
      const page = await docs.get();
      if (page.empty) break;
      const writer = db().bulkWriter();
      const deletes = Promise.allSettled(page.docs.map((doc) => writer.delete(doc.ref)));
      await writer.close();
      // A delete that failed after BulkWriter's own retries fails the run; the next run starts this message again.
      const failed = (await deletes).find((outcome) => outcome.status === "rejected");
      if (failed) throw failed.reason;
      if (name === COLLECTIONS.recipients) result.recipientsDeleted += page.size;
      if (page.size < RECIPIENT_DELETE_PAGE) break;
    }
  }
  // The message's own bookkeeping: a few documents per shard, part and page of 500.
  const writer = db().bulkWriter();
  const deletes: Array<Promise<unknown>> = [];
  for (const name of [COLLECTIONS.counters, COLLECTIONS.expansion, COLLECTIONS.pages]) {
    for (const doc of (await message.collection(name).select().get()).docs) deletes.push(writer.delete(doc.ref));
  }
  const settled = Promise.allSettled(deletes);
  await writer.close();
  const failed = (await settled).find((outcome) => outcome.status === "rejected");
  if (failed) throw failed.reason;
  await message.delete();
  result.messagesDeleted += 1;
  return true;
}
