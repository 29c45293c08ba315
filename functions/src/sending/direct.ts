import { Timestamp } from "firebase-admin/firestore";
import { messagesCollection, recipientsCollection } from "../messages/collection";
import type { MessageDoc } from "../messages/schema";
import { STATUS } from "../shared/contract";
import { db } from "../shared/firestore";
import { recipientIdFor } from "./recipients";
import type { Sender } from "./sender";

export type DirectContent = Pick<MessageDoc, "title" | "body" | "data" | "dataOnly" | "priority">;

/**
 * A message to one known device, written with its recipient in one batch
 * (both or neither): the recipient trigger then delivers it like any other,
 * with per-recipient status, retries, token retirement and the sweep. The
 * message is complete from the start (recipientCount 1), so reports never
 * see it half written.
 */
export async function sendToDevice(sender: Sender, via: NonNullable<MessageDoc["via"]>, content: DirectContent, deviceId: string, vars: Record<string, string>, options: { privateContent?: boolean } = {}): Promise<string> {
  const ref = messagesCollection().doc();
  const now = Timestamp.now();
  const batch = db().batch();
  batch.create(ref, {
    ...content,
    senderId: sender.senderId,
    via,
    ...(sender.tenant !== undefined && { tenant: sender.tenant }),
    ...(options.privateContent && { privateContent: true }),
    createdAt: now,
    audience: { devices: [deviceId] },
    sendAt: null,
    cancelledAt: null,
    recipientCount: 1,
    recipientsWrittenAt: now,
  });
  batch.create(recipientsCollection(ref.id).doc(recipientIdFor(deviceId)), {
    deviceId,
    userId: null,
    ...(Object.keys(vars).length > 0 && { vars }),
    status: STATUS.pending,
    statusMessage: null,
    attempts: 0,
  });
  await batch.commit();
  return ref.id;
}
