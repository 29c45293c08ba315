import { Timestamp } from "firebase-admin/firestore";
import { HttpsError } from "firebase-functions/v2/https";
import { messageStates, pagesCollection, recipientsCollection } from "../messages/collection";
import type { PageOutcome, RecipientDoc } from "../messages/schema";
import { assertMayManage, type Sender } from "./sender";
import { recipientIdFor } from "./recipients";
import type { RecipientOutcome } from "./schema";

/*
 * What happened to one device for one message, wherever it is recorded. A
 * recipient with a document of its own (a list of users or devices, a
 * broadcast's recipient that was not accepted, a row a job wrote) answers from
 * it; a broadcast's accepted recipient has none (delivery/pages.ts, recorded
 * compactly) and answers from its page, found by the page's last device id
 * (a broadcast's pages cover disjoint ranges of device ids). At most three
 * reads, whatever the message's size.
 */

export type { RecipientOutcome };

const iso = (t: Timestamp | null | undefined) => (t instanceof Timestamp ? t.toDate().toISOString() : null);

function fromDocument(messageId: string, recipientId: string, doc: RecipientDoc): RecipientOutcome {
  return {
    messageId,
    deviceId: doc.deviceId,
    recipientId,
    status: doc.status,
    statusMessage: doc.statusMessage ?? null,
    attempts: doc.attempts ?? 0,
    sentAt: iso(doc.sentAt),
    fcmMessageId: doc.fcmMessageId ?? null,
    recordedIn: "recipient",
  };
}

/** The device's outcome on a page that holds it, once the page is sent (its outcomes are stored before anything is recorded). */
async function fromPage(messageId: string, deviceId: string): Promise<RecipientOutcome | undefined> {
  const pages = await pagesCollection(messageId).where("lastDeviceId", ">=", deviceId).orderBy("lastDeviceId").limit(1).get();
  const page = pages.docs[0]?.data();
  const index = page?.recipients.findIndex((r) => r.deviceId === deviceId) ?? -1;
  const outcome: PageOutcome | undefined = page?.outcomes?.[index];
  if (!page || index < 0 || !outcome) return undefined;
  return {
    messageId,
    deviceId,
    recipientId: page.recipients[index]?.id ?? recipientIdFor(deviceId),
    status: outcome.status,
    statusMessage: outcome.statusMessage,
    attempts: outcome.attempts ?? page.attempt,
    sentAt: iso(outcome.sentAt),
    fcmMessageId: outcome.fcmMessageId ?? null,
    recordedIn: "page",
  };
}

/**
 * The outcome for `deviceId` of a message the sender may manage (staff: any;
 * a key: its own), or not-found when the device is not one of its
 * recipients (or not yet: a broadcast's page is found once it is sent).
 */
export async function lookupRecipient(sender: Sender, messageId: string, deviceId: string): Promise<RecipientOutcome> {
  const recipients = recipientsCollection(messageId);
  const [message, derived] = await Promise.all([messageStates().doc(messageId).get(), recipients.doc(recipientIdFor(deviceId)).get()]);
  assertMayManage(sender, message.data());
  const own = derived.data();
  if (own && own.deviceId === deviceId) return fromDocument(messageId, derived.id, own);
  const paged = await fromPage(messageId, deviceId);
  if (paged) return paged;
  // A recipient a job wrote under an id of its own choosing.
  const written = (await recipients.where("deviceId", "==", deviceId).limit(1).get()).docs[0];
  if (written) return fromDocument(messageId, written.id, written.data());
  throw new HttpsError("not-found", "This device is not a recipient of this message (or its page is not sent yet).", { field: "deviceId" });
}
