import { FieldPath, GrpcStatus, Timestamp, type Query, type QueryDocumentSnapshot } from "firebase-admin/firestore";
import { z } from "zod";
import { HttpsError } from "firebase-functions/v2/https";
import { logger } from "firebase-functions";
import { STATUS } from "../shared/contract";
import { db } from "../shared/firestore";
import { runTransaction } from "../shared/transaction";
import { messagesCollection, recipientsCollection } from "../messages/collection";
import type { MessageDoc } from "../messages/schema";
import { recipientIdFor } from "./recipients";
import { assertMayManage, assertMaySendUrgency, type Sender } from "./sender";
import type { SendResult } from "./schema";
import { canonical, idempotentMessageId, sha256 } from "./send";
import { enqueueOnExpansionQueue, rescueGeneration } from "./expansion";

const PAGE = 500;

/** What a resend copies: the content, never the audience, schedule or bookkeeping of the original. */
const CONTENT_FIELDS = [
  "title", "body", "data", "link", "imageUrl", "sound", "collapseKey", "ttlSeconds", "priority", "badge",
  "titleLocKey", "titleLocArgs", "bodyLocKey", "bodyLocArgs", "actionLocKey", "launchImage", "category", "dataOnly", "urgency",
] as const satisfies ReadonlyArray<keyof MessageDoc>;

function contentOf(message: MessageDoc): Partial<MessageDoc> {
  return Object.fromEntries(CONTENT_FIELDS.filter((field) => message[field] !== undefined).map((field) => [field, message[field]]));
}

/** The two ranges of failure codes (200 sits between them: in practice every failure is 400 or above). */
function failureRanges(messageId: string): Query[] {
  const recipients = db().collection(recipientsCollection(messageId).path);
  return [recipients.where("status", ">", 0).where("status", "<", STATUS.accepted), recipients.where("status", ">", STATUS.accepted)];
}

/** Where the background writer is: the range of failure codes, and the last recipient written in it. */
const resendCursor = z.object({ range: z.number().int().min(0), after: z.object({ status: z.number(), id: z.string() }).nullable() });
type ResendCursor = z.infer<typeof resendCursor>;

/** The next page of failed recipients after `cursor`, and the cursor after it (null: none left). */
async function nextFailures(messageId: string, cursor: ResendCursor): Promise<{ docs: QueryDocumentSnapshot[]; next: ResendCursor | null }> {
  const ranges = failureRanges(messageId);
  for (let range = cursor.range; range < ranges.length; range += 1) {
    const base = (ranges[range] as Query).orderBy("status").orderBy(FieldPath.documentId());
    const after = range === cursor.range ? cursor.after : null;
    const snapshot = await (after ? base.startAfter(after.status, after.id) : base).limit(PAGE).get();
    const last = snapshot.docs[snapshot.size - 1];
    if (snapshot.size === PAGE && last) return { docs: snapshot.docs, next: { range, after: { status: last.get("status") as number, id: last.id } } };
    if (snapshot.size > 0) return { docs: snapshot.docs, next: range + 1 < ranges.length ? { range: range + 1, after: null } : null };
  }
  return { docs: [], next: null };
}

/** Pending recipients, in the shape sendMessage's writer gives them (deviceId, userId, vars); one that exists already (a run before) is left. */
async function writePending(toId: string, failures: QueryDocumentSnapshot[]): Promise<void> {
  const target = recipientsCollection(toId);
  const writer = db().bulkWriter();
  writer.onWriteError((error) => error.code !== GrpcStatus.ALREADY_EXISTS && error.failedAttempts < 5);
  const writes = failures.flatMap((doc) => {
    const failed = doc.data();
    if (typeof failed.deviceId !== "string") return [];
    return [
      writer
        .create(target.doc(recipientIdFor(failed.deviceId)), {
          deviceId: failed.deviceId,
          userId: typeof failed.userId === "string" ? failed.userId : null,
          ...(failed.vars && typeof failed.vars === "object" && { vars: failed.vars as Record<string, unknown> }),
          status: STATUS.pending,
          statusMessage: null,
          attempts: 0,
        })
        .catch((err: { code?: number }) => {
          if (err.code !== GrpcStatus.ALREADY_EXISTS) throw err;
        }),
    ];
  });
  await writer.close();
  await Promise.all(writes);
}

/** What a resend task carries: the resend message, and how many times its work was handed on. */
export const resendTask = z.strictObject({ resend: z.literal(true), messageId: z.string().min(1), generation: z.number().int().min(0) });
export type ResendTask = z.infer<typeof resendTask>;

/** The writer's time budget per task: well under the queue function's limit. */
const RESEND_BUDGET_MS = 60_000;

/** "r", on the expansion queue: one run of a resend's writer. */
function enqueueResend(messageId: string, generation: number): Promise<void> {
  const task: ResendTask = { resend: true, messageId, generation };
  return enqueueOnExpansionQueue(task, `r-${sha256(`${messageId}\u0000${generation}`).slice(0, 32)}`);
}

/** Enqueues a resend's writer again after its task chain died (the sweep's backstop, or a repeat of the call). */
export function resumeResend(messageId: string, nowMs: number): Promise<void> {
  return enqueueResend(messageId, rescueGeneration(nowMs));
}

/**
 * The background half of resendFailed: writes the original's failed
 * recipients into the resend message as pending recipients, a page of 500 at
 * a time, each page recorded on the message (`resendProgress`) by a
 * compare-and-set on the cursor, so that two runs never both go on and a run
 * that dies is taken up from the last page recorded (a recipient already
 * written is left as it is: ids come from the device). When its time budget
 * is spent it hands on to a successor task; the last page sets
 * `recipientCount` and `recipientsWrittenAt`.
 */
export async function continueResend(task: ResendTask): Promise<void> {
  const deadline = Date.now() + RESEND_BUDGET_MS;
  const ref = messagesCollection().doc(task.messageId);
  const message = (await ref.get()).data();
  if (!message?.resendOf || message.recipientsWrittenAt || !message.resendProgress || message.resendProgress.done) return;
  const original = message.resendOf;
  let from = message.resendProgress.cursor;
  for (;;) {
    const cursor = from === null ? { range: 0, after: null } : resendCursor.parse(JSON.parse(from));
    const page = await nextFailures(original, cursor);
    await writePending(task.messageId, page.docs);
    const next = page.next === null ? null : JSON.stringify(page.next);
    const done = next === null;
    const count = done ? (await recipientsCollection(task.messageId).count().get()).data().count : 0;
    const moved = await runTransaction("resendProgress", async (tx) => {
      const current = (await tx.get(ref)).data();
      if (!current?.resendProgress || current.resendProgress.done || current.resendProgress.cursor !== from) return false;
      const now = Timestamp.now();
      tx.update(ref, {
        resendProgress: { cursor: next, written: current.resendProgress.written + page.docs.length, done, updatedAt: now },
        ...(done && { recipientCount: count, recipientsWrittenAt: now }),
      });
      return true;
    });
    if (!moved) return;
    if (done) {
      logger.info("resend: failed recipients written", { messageId: task.messageId, resendOf: original, recipients: count });
      return;
    }
    from = next;
    if (Date.now() > deadline) {
      await enqueueResend(task.messageId, task.generation + 1);
      return;
    }
  }
}

/**
 * Resend to the failed: a new message with the original's content, for
 * exactly the recipients of a finished message whose final code is a failure.
 * The new message carries `resendOf: <original id>`; the original is left as
 * it was. The call answers at once with the new message's id and how many
 * failed recipients it is for; their recipient documents are written in the
 * background (continueResend), for any number of failures, and the message
 * reads as `preparing` until they are. With an idempotency key a repeat
 * returns the first resend and starts nothing new (same scheme as
 * sendMessage); a repeat whose writer had died sets it going again.
 */
export async function resendFailed(sender: Sender, messageId: string, idempotencyKey?: string): Promise<SendResult> {
  const original = (await messagesCollection().doc(messageId).get()).data();
  assertMayManage(sender, original);
  // An emergency is resent as one, by a sender who may send one.
  assertMaySendUrgency(sender, original.urgency);
  if (original.privateContent || original.contentRemovedAt) {
    throw new HttpsError("failed-precondition", "This is a private message from a Moodle site; only the site can send it again.", { field: "messageId" });
  }
  const open = await recipientsCollection(messageId).where("status", "in", [STATUS.pending, STATUS.inProcess]).count().get();
  if (original.recipientsWrittenAt === null || open.data().count > 0) {
    throw new HttpsError("failed-precondition", "This message is still being sent; resend to the failed once it is finished.", { field: "messageId" });
  }
  const failures = await recipientsCollection(messageId).where("status", ">", 0).count().get();
  const accepted = await recipientsCollection(messageId).where("status", "==", STATUS.accepted).count().get();
  const expected = failures.data().count - accepted.data().count;
  if (expected === 0) {
    throw new HttpsError("failed-precondition", "No recipient of this message failed: there is nothing to resend.", { field: "messageId" });
  }

  const requestHash = sha256(canonical({ resendOf: messageId }));
  const now = Timestamp.now();
  const fields: MessageDoc = {
    ...contentOf(original),
    title: original.title,
    body: original.body,
    senderId: sender.senderId,
    via: sender.via,
    createdAt: now,
    resendOf: messageId,
    resendExpected: expected,
    resendProgress: { cursor: null, written: 0, done: false, updatedAt: now },
    sendAt: null,
    cancelledAt: null,
    recipientCount: null,
    recipientsWrittenAt: null,
    ...(idempotencyKey !== undefined && { idempotencyKey }),
    requestHash,
  };
  const ref = idempotencyKey === undefined ? messagesCollection().doc() : messagesCollection().doc(idempotentMessageId(sender.senderId, idempotencyKey));
  const existing = await runTransaction("resendFailed", async (tx) => {
    const found = (await tx.get(ref)).data();
    if (!found) tx.create(ref, fields);
    return found;
  });
  if (existing && existing.requestHash !== requestHash) {
    throw new HttpsError("already-exists", "This idempotencyKey was already used for a different message.", { field: "idempotencyKey" });
  }
  if (!existing) await enqueueResend(ref.id, 0);
  else if (!existing.recipientsWrittenAt && existing.resendProgress && Date.now() - existing.resendProgress.updatedAt.toMillis() > 2 * RESEND_BUDGET_MS) {
    // The first call's writer has not moved for two of its budgets: it died; set it going again.
    await resumeResend(ref.id, Date.now());
  }
  const recipients = existing ? (existing.resendExpected ?? existing.recipientCount ?? 0) : expected;
  logger.info("resend: asked for; recipients are written in the background", { messageId: ref.id, resendOf: messageId, recipients, repeat: existing !== undefined });
  return { messageId: ref.id, recipients };
}
