import { FieldPath, FieldValue, type Timestamp } from "firebase-admin/firestore";
import { COLLECTIONS, STATUS } from "../shared/contract";
import { db } from "../shared/firestore";
import { outOfTime, type SweepContext } from "./context";

/** What a message whose private content was removed says in its place. */
export const CONTENT_REMOVED = "The content of this private message was removed after delivery.";

export interface PrivatePass {
  removed: number;
  done: boolean;
}

/**
 * Removes what is private in a message (a Moodle site's push: a private
 * message's text and every `extra` field in `data`) once every recipient is
 * final: the text and data are needed until then, for retries, and never
 * after. The body becomes CONTENT_REMOVED, `data` goes, the message keeps its
 * title (the site's name), its counts and its outcomes. Messages flagged
 * `privateContent` are read in document order, a page at a time; one whose
 * recipient is still pending is passed over until a later sweep.
 */
export async function removePrivateContent(ctx: SweepContext): Promise<PrivatePass> {
  const result: PrivatePass = { removed: 0, done: false };
  const messages = db().collection(COLLECTIONS.messages);
  let cursor: string | undefined;
  while (!outOfTime(ctx)) {
    let query = messages.where("privateContent", "==", true).orderBy(FieldPath.documentId()).select().limit(ctx.pageSize);
    if (cursor !== undefined) query = query.startAfter(cursor);
    const page = await query.get();
    for (const message of page.docs) {
      const unfinished = await message.ref.collection(COLLECTIONS.recipients).where("status", "in", [STATUS.pending, STATUS.inProcess]).limit(1).get();
      if (!unfinished.empty) continue;
      await message.ref.update({ body: CONTENT_REMOVED, data: FieldValue.delete(), privateContent: false, contentRemovedAt: ctx.now satisfies Timestamp });
      result.removed += 1;
    }
    if (page.size < ctx.pageSize) {
      result.done = true;
      break;
    }
    cursor = page.docs[page.docs.length - 1]?.id;
  }
  return result;
}
