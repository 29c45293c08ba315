import { createHash } from "node:crypto";
import { Timestamp } from "firebase-admin/firestore";
import { HttpsError } from "firebase-functions/v2/https";
import { logger } from "firebase-functions";
import { db } from "../shared/firestore";
import { messageRef, messagesCollection, recipientsCollection } from "../messages/collection";
import type { MessageDoc } from "../messages/schema";
import { writeRecipients } from "./recipients";
import type { Sender } from "./sender";
import type { SendMessageInput, SendResult } from "./schema";

export type { SendResult } from "./schema";

/** JSON with sorted keys: the same request always hashes the same. */
export function canonical(value: unknown): string {
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * The id of an idempotent message is derived from its sender and key, so that
 * two racing requests with the same key meet on one document and the
 * transaction below lets only the first create it.
 */
export function idempotentMessageId(senderId: string, key: string): string {
  return sha256(`${senderId}\u0000${key}`).slice(0, 40);
}

function messageFields(sender: Sender, input: SendMessageInput, requestHash: string): MessageDoc {
  const { audience, vars: _vars, sendAt, idempotencyKey, ...content } = input;
  return {
    ...content,
    senderId: sender.senderId,
    via: sender.via,
    createdAt: Timestamp.now(),
    audience: { ...audience },
    sendAt: sendAt && sendAt.getTime() > Date.now() ? Timestamp.fromDate(sendAt) : null,
    cancelledAt: null,
    recipientCount: null,
    recipientsWrittenAt: null,
    ...(idempotencyKey !== undefined && { idempotencyKey }),
    requestHash,
  };
}

/**
 * Creates a message and writes a recipient for every device of its audience;
 * the delivery pipeline picks each one up from there.
 *
 * With an idempotency key, a repeat of the same request returns the first
 * message; the same key with a different request is a conflict. A repeat that
 * finds the recipients not yet all written (the first call failed half way, or
 * is still writing) writes the audience again: recipient ids are per device
 * and created only once, so that completes the first rather than doubling it.
 */
export async function sendMessage(sender: Sender, input: SendMessageInput): Promise<SendResult> {
  const { idempotencyKey, ...request } = input;
  const requestHash = sha256(canonical(request));
  const fields = messageFields(sender, input, requestHash);
  let ref = messagesCollection().doc();
  let existing: MessageDoc | undefined;
  if (idempotencyKey === undefined) {
    await ref.create(fields);
  } else {
    ref = messagesCollection().doc(idempotentMessageId(sender.senderId, idempotencyKey));
    existing = await db().runTransaction(async (tx) => {
      const snapshot = await tx.get(ref);
      const found = snapshot.data();
      if (found) return found;
      tx.create(ref, fields);
      return undefined;
    });
    if (existing && existing.requestHash !== requestHash) {
      throw new HttpsError("already-exists", "This idempotencyKey was already used for a different message.", { field: "idempotencyKey" });
    }
  }
  const messageId = ref.id;
  if (existing) {
    if (existing.recipientsWrittenAt || existing.cancelledAt) return { messageId, recipients: existing.recipientCount ?? 0 };
    logger.info("send: repeated request finds recipients unfinished; writing them again", { messageId });
  }

  const created = await writeRecipients({ messageId, audience: input.audience, category: input.category, vars: input.vars });
  // Counted, not summed: a repeat may have created some of them.
  const recipients = (await recipientsCollection(messageId).count().get()).data().count;
  await messageRef(messageId).update({ recipientCount: recipients, recipientsWrittenAt: Timestamp.now() });
  logger.info("send: recipients written", { messageId, recipients, created, via: sender.via, scheduled: fields.sendAt !== null });
  return { messageId, recipients };
}
