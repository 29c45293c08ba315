import { Timestamp } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { recordPageOutcomes } from "../delivery/pages";
import { COLLECTIONS } from "../shared/contract";
import { db } from "../shared/firestore";
import { LEASE_SECONDS } from "../shared/params";
import { EXPANSION_TIMEOUT_SECONDS, resumePart } from "./expansion";
import { resumeResend } from "./resend";

/*
 * The sweep's backstop for a broadcast whose task died for good (its Cloud
 * Tasks retries spent, or a successor task lost): an expansion part that is
 * not done and has not moved for longer than a part task can run, and a page
 * whose FCM answers are stored ("sent") but whose recipient documents were
 * never written. The part gets a task again (it goes on from its cursor; its
 * pages keep every device to one send); the page is recorded here. Running
 * either beside a live task is safe: a part's checkpoint lets one run go on,
 * and a page is recorded once.
 */

/** Parts and pages handled per sweep run; what is left waits for the next. */
const PER_RUN = 50;

export interface Rescued {
  parts: number;
  pages: number;
  resends: number;
}

export async function rescueStranded(now: Timestamp = Timestamp.now()): Promise<Rescued> {
  // A live part checkpoints after every page and hands over to a successor before its time limit.
  const partsBefore = Timestamp.fromMillis(now.toMillis() - (EXPANSION_TIMEOUT_SECONDS + 60) * 1000);
  const parts = await db().collectionGroup(COLLECTIONS.expansion).where("done", "==", false).where("updatedAt", "<", partsBefore).limit(PER_RUN).get();
  for (const doc of parts.docs) {
    const messageId = doc.ref.parent.parent?.id;
    if (!messageId) continue;
    await resumePart(messageId, Number(doc.id), now.toMillis());
    logger.warn("sweep: expansion part had stopped; its task is enqueued again", { messageId, part: doc.id });
  }
  // A sent page's record task runs at once; one left "sent" for two leases has lost it.
  const pagesBefore = Timestamp.fromMillis(now.toMillis() - 2 * LEASE_SECONDS.value() * 1000);
  const pages = await db().collectionGroup(COLLECTIONS.pages).where("state", "==", "sent").where("updatedAt", "<", pagesBefore).limit(PER_RUN).get();
  for (const doc of pages.docs) {
    const messageId = doc.ref.parent.parent?.id;
    if (!messageId) continue;
    await recordPageOutcomes({ messageId, pageId: doc.id });
    logger.warn("sweep: a sent page had not been recorded; recorded now", { messageId, pageId: doc.id });
  }
  // A resend's writer records every page of 500 within seconds and hands on within its budget.
  const resendsBefore = Timestamp.fromMillis(now.toMillis() - 5 * 60_000);
  const resends = await db().collection(COLLECTIONS.messages).where("resendProgress.done", "==", false).where("resendProgress.updatedAt", "<", resendsBefore).limit(PER_RUN).get();
  for (const doc of resends.docs) {
    await resumeResend(doc.id, now.toMillis());
    logger.warn("sweep: a resend's writer had stopped; its task is enqueued again", { messageId: doc.id });
  }
  return { parts: parts.size, pages: pages.size, resends: resends.size };
}
