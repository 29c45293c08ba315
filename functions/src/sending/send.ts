import { createHash } from "node:crypto";
import { Timestamp } from "firebase-admin/firestore";
import { HttpsError } from "firebase-functions/v2/https";
import { logger } from "firebase-functions";
import { runTransaction } from "../shared/transaction";
import { messagesCollection } from "../messages/collection";
import type { MessageDoc } from "../messages/schema";
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
  const { audience, vars, sendAt, idempotencyKey, ...content } = input;
  return {
    ...content,
    ...(vars !== undefined && { vars }),
    senderId: sender.senderId,
    via: sender.via,
    ...(sender.tenant !== undefined && { tenant: sender.tenant }),
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
 * Creates a message with its audience and returns at once: the message
 * document's creation trigger expands the audience into recipients in the
 * background (sending/expansion.ts), the same path a document written
 * directly takes, and fills in `recipientCount` when it is done. So the call
 * takes the same time for ten devices and a million.
 *
 * With an idempotency key, a repeat of the same request returns the first
 * message (and its recipient count once known); the same key with a different
 * request is a conflict.
 */
export async function sendMessage(sender: Sender, input: SendMessageInput): Promise<SendResult> {
  const { idempotencyKey, ...request } = input;
  const requestHash = sha256(canonical(request));
  const fields = messageFields(sender, input, requestHash);
  if (idempotencyKey === undefined) {
    const ref = messagesCollection().doc();
    await ref.create(fields);
    logger.info("send: message created", { messageId: ref.id, via: sender.via, scheduled: fields.sendAt !== null });
    return { messageId: ref.id, recipients: null };
  }
  const ref = messagesCollection().doc(idempotentMessageId(sender.senderId, idempotencyKey));
  const existing = await runTransaction("sendMessage", async (tx) => {
    const found = (await tx.get(ref)).data();
    if (!found) tx.create(ref, fields);
    return found;
  });
  if (existing && existing.requestHash !== requestHash) {
    throw new HttpsError("already-exists", "This idempotencyKey was already used for a different message.", { field: "idempotencyKey" });
  }
  if (!existing) logger.info("send: message created", { messageId: ref.id, via: sender.via, scheduled: fields.sendAt !== null });
  return { messageId: ref.id, recipients: existing?.recipientCount ?? null };
}
