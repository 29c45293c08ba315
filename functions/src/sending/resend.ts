import { FieldPath, GrpcStatus, Timestamp, type DocumentData, type Query } from "firebase-admin/firestore";
import { HttpsError } from "firebase-functions/v2/https";
import { logger } from "firebase-functions";
import { STATUS } from "../shared/contract";
import { db } from "../shared/firestore";
import { runTransaction } from "../shared/transaction";
import { messageRef, messagesCollection, recipientsCollection } from "../messages/collection";
import type { MessageDoc } from "../messages/schema";
import { recipientIdFor } from "./recipients";
import { assertMayManage, type Sender } from "./sender";
import type { SendResult } from "./schema";
import { canonical, idempotentMessageId, sha256 } from "./send";

const PAGE = 500;

/** What a resend copies: the content, never the audience, schedule or bookkeeping of the original. */
const CONTENT_FIELDS = [
  "title", "body", "data", "link", "imageUrl", "sound", "collapseKey", "ttlSeconds", "priority", "badge",
  "titleLocKey", "titleLocArgs", "bodyLocKey", "bodyLocArgs", "actionLocKey", "launchImage", "category", "dataOnly",
] as const satisfies ReadonlyArray<keyof MessageDoc>;

function contentOf(message: MessageDoc): Partial<MessageDoc> {
  return Object.fromEntries(CONTENT_FIELDS.filter((field) => message[field] !== undefined).map((field) => [field, message[field]]));
}

/**
 * The failed recipients of a message (positive codes other than 200), in
 * pages ordered by status then id. Two ranges, since 200 sits between the
 * failures: in practice every failure is 400 or above.
 */
async function* failedRecipients(messageId: string): AsyncGenerator<DocumentData[]> {
  const recipients = db().collection(recipientsCollection(messageId).path);
  const ranges: Query[] = [
    recipients.where("status", ">", 0).where("status", "<", STATUS.accepted),
    recipients.where("status", ">", STATUS.accepted),
  ];
  for (const range of ranges) {
    let query = range.orderBy("status").orderBy(FieldPath.documentId()).limit(PAGE);
    for (;;) {
      const snapshot = await query.get();
      if (snapshot.empty) break;
      yield snapshot.docs.map((doc) => doc.data());
      if (snapshot.size < PAGE) break;
      const last = snapshot.docs[snapshot.size - 1];
      if (!last) break;
      query = range.orderBy("status").orderBy(FieldPath.documentId()).startAfter(last.get("status"), last.id).limit(PAGE);
    }
  }
}

/** Pending recipients, in the shape sendMessage's writer gives them (deviceId, userId, vars). */
async function writeResendRecipients(fromId: string, toId: string): Promise<void> {
  const target = recipientsCollection(toId);
  const writer = db().bulkWriter();
  writer.onWriteError((error) => error.code !== GrpcStatus.ALREADY_EXISTS && error.failedAttempts < 5);
  const pending: Array<Promise<unknown>> = [];
  for await (const page of failedRecipients(fromId)) {
    for (const failed of page) {
      if (typeof failed.deviceId !== "string") continue;
      const write = writer
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
        });
      pending.push(write);
    }
    await writer.flush();
  }
  await writer.close();
  await Promise.all(pending);
}

/**
 * Resend to the failed: a new message with the original's content, for
 * exactly the recipients of a finished message whose final code is a failure.
 * The new message carries `resendOf: <original id>`; the original is left as
 * it was. Recipients are written here with the admin SDK, so the audience
 * limits of sendMessage do not apply. With an idempotency key a repeat returns
 * the first resend (same scheme as sendMessage).
 */
export async function resendFailed(sender: Sender, messageId: string, idempotencyKey?: string): Promise<SendResult> {
  const original = (await messagesCollection().doc(messageId).get()).data();
  assertMayManage(sender, original);
  const open = await recipientsCollection(messageId).where("status", "in", [STATUS.pending, STATUS.inProcess]).count().get();
  if (original.recipientsWrittenAt === null || open.data().count > 0) {
    throw new HttpsError("failed-precondition", "This message is still being sent; resend to the failed once it is finished.", { field: "messageId" });
  }
  const failures = await recipientsCollection(messageId).where("status", ">", 0).count().get();
  const accepted = await recipientsCollection(messageId).where("status", "==", STATUS.accepted).count().get();
  if (failures.data().count - accepted.data().count === 0) {
    throw new HttpsError("failed-precondition", "No recipient of this message failed: there is nothing to resend.", { field: "messageId" });
  }

  const requestHash = sha256(canonical({ resendOf: messageId }));
  const fields: MessageDoc = {
    ...contentOf(original),
    title: original.title,
    body: original.body,
    senderId: sender.senderId,
    via: sender.via,
    createdAt: Timestamp.now(),
    resendOf: messageId,
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
  if (existing?.recipientsWrittenAt) return { messageId: ref.id, recipients: existing.recipientCount ?? 0 };

  await writeResendRecipients(messageId, ref.id);
  const recipients = (await recipientsCollection(ref.id).count().get()).data().count;
  await messageRef(ref.id).update({ recipientCount: recipients, recipientsWrittenAt: Timestamp.now() });
  logger.info("resend: failed recipients written", { messageId: ref.id, resendOf: messageId, recipients });
  return { messageId: ref.id, recipients };
}
