import { createHash } from "node:crypto";
import { Timestamp, type DocumentData, type DocumentReference } from "firebase-admin/firestore";
import { HttpsError } from "firebase-functions/v2/https";
import { logger } from "firebase-functions";
import { runTransaction } from "../shared/transaction";
import { messagesCollection, recipientsCollection } from "../messages/collection";
import { db } from "../shared/firestore";
import type { MessageDoc } from "../messages/schema";
import { assertMaySendUrgency, type Sender } from "./sender";
import { sendSmall, smallSend } from "./small";
import type { SendMessageInput, SendResult } from "./schema";
import { requireMachineTranslation } from "../languages/machine";

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
 * Creates a message with its audience and returns. A small send (small.ts:
 * a few users or devices, due now) is written whole, message and recipients
 * in one commit, and sent by this call before it answers; any other audience is expanded in the background by the message
 * document's creation trigger (sending/expansion.ts), the same path a
 * document written directly takes, which fills in `recipientCount` when it
 * is done. So the call takes about the same time for ten devices and a
 * million, and answers `recipients: null` either way (the contract; a
 * repeat with the same `idempotencyKey` returns the count once known).
 *
 * With an idempotency key, a repeat of the same request returns the first
 * message; the same key with a different request is a conflict.
 */
export async function sendMessage(sender: Sender, input: SendMessageInput): Promise<SendResult> {
  assertMaySendUrgency(sender, input.urgency);
  if (input.autoTranslate) requireMachineTranslation();
  const { idempotencyKey, ...request } = input;
  const requestHash = sha256(canonical(request));
  const fields = messageFields(sender, input, requestHash);
  const started = performance.now();
  const small = await smallSend(fields);
  const read = performance.now();
  const written = small ? { ...fields, recipientCount: small.recipients.length, recipientsWrittenAt: Timestamp.now() } : fields;
  const create = (write: (ref: DocumentReference, data: DocumentData) => unknown, ref: DocumentReference) => {
    write(ref, written);
    for (const recipient of small?.recipients ?? []) write(recipientsCollection(ref.id).doc(recipient.id), recipient.data);
  };
  const created = (messageId: string) =>
    logger.info("send: message created", { messageId, via: sender.via, scheduled: fields.sendAt !== null, ...(small ? { lane: "small", recipients: small.recipients.length } : { lane: "expansion" }) });
  const deliver = async (messageId: string) => {
    created(messageId);
    if (!small) return;
    try {
      // Where the call's time went (ms): reading the audience, the commit, the send with its outcomes.
      const committed = performance.now();
      await sendSmall(messageId, written, small, { read: Math.round(read - started), commit: Math.round(committed - read) });
    } catch (err) {
      // Its recipients are written, claimed under a lease: the sweep hands them back to the dispatch when it runs out.
      logger.error("send: a small send's call failed to send it; the sweep takes its recipients over", { messageId, error: err instanceof Error ? err.message : String(err) });
    }
  };
  if (idempotencyKey === undefined) {
    const ref = messagesCollection().doc();
    const batch = db().batch();
    create((doc, data) => batch.create(doc, data), ref);
    await batch.commit();
    await deliver(ref.id);
    return { messageId: ref.id, recipients: null };
  }
  const ref = messagesCollection().doc(idempotentMessageId(sender.senderId, idempotencyKey));
  const existing = await runTransaction("sendMessage", async (tx) => {
    const found = (await tx.get(ref)).data();
    if (!found) create((doc, data) => tx.create(doc, data), ref);
    return found;
  });
  if (existing && existing.requestHash !== requestHash) {
    throw new HttpsError("already-exists", "This idempotencyKey was already used for a different message.", { field: "idempotencyKey" });
  }
  if (!existing) await deliver(ref.id);
  return { messageId: ref.id, recipients: existing?.recipientCount ?? null };
}
