import { Timestamp } from "firebase-admin/firestore";
import { HttpsError } from "firebase-functions/v2/https";
import { STATUS } from "../shared/contract";
import { messageStates, pagesCollection, recipientsCollection } from "../messages/collection";
import { receiptsCollection, receiptTimes } from "../messages/receipts";
import type { PageDoc, PageOutcome, RecipientDoc } from "../messages/schema";
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
 * reads, whatever the message's size, and one for the device's receipt.
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
    receivedAt: null,
    openedAt: null,
    // Still waiting: a pending recipient whose moment has not come (heldUntil stays on it once sent).
    ...(doc.status === STATUS.pending && doc.heldUntil && doc.heldUntil.toMillis() > Date.now() ? { heldUntil: iso(doc.heldUntil), heldFor: doc.heldFor ?? null } : { heldUntil: null, heldFor: null }),
    language: doc.language ?? null,
  };
}

/** Where a device is listed among a message's recipients: its own document, or a place on a page (its outcome there once the page is sent). */
export type RecipientEntry =
  | { kind: "document"; recipientId: string; doc: RecipientDoc }
  | { kind: "page"; page: PageDoc; index: number };

/** The page that lists the device, if any: the first whose last device id is at or after it. */
async function onPage(messageId: string, deviceId: string): Promise<RecipientEntry | undefined> {
  const pages = await pagesCollection(messageId).where("lastDeviceId", ">=", deviceId).orderBy("lastDeviceId").limit(1).get();
  const page = pages.docs[0]?.data();
  const index = page?.recipients.findIndex((r) => r.deviceId === deviceId) ?? -1;
  return page && index >= 0 ? { kind: "page", page, index } : undefined;
}

/**
 * Where `deviceId` is listed as a recipient of the message, if it is: the
 * derived recipient document, the page that holds it (before its outcome is
 * stored too: a page lists its devices before it is sent), or a row a job
 * wrote under an id of its own choosing. At most three reads.
 */
export async function findRecipient(messageId: string, deviceId: string): Promise<RecipientEntry | undefined> {
  const recipients = recipientsCollection(messageId);
  const derived = await recipients.doc(recipientIdFor(deviceId)).get();
  const own = derived.data();
  if (own && own.deviceId === deviceId) return { kind: "document", recipientId: derived.id, doc: own };
  const paged = await onPage(messageId, deviceId);
  if (paged) return paged;
  const written = (await recipients.where("deviceId", "==", deviceId).limit(1).get()).docs[0];
  return written ? { kind: "document", recipientId: written.id, doc: written.data() } : undefined;
}

/** The device's outcome on its page, once the page is sent (its outcomes are stored before anything is recorded). */
function fromPage(messageId: string, deviceId: string, page: PageDoc, index: number): RecipientOutcome | undefined {
  const outcome: PageOutcome | undefined = page.outcomes?.[index];
  if (!outcome) return undefined;
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
    receivedAt: null,
    openedAt: null,
    heldUntil: null,
    heldFor: null,
    language: outcome.language ?? null,
  };
}

/**
 * The outcome for `deviceId` of a message the sender may manage (staff: any;
 * a key: its own), with what the device's app reported (its receipt: one
 * more read), or not-found when the device is not one of its recipients (or
 * not yet: a broadcast's page is found once it is sent).
 */
export async function lookupRecipient(sender: Sender, messageId: string, deviceId: string): Promise<RecipientOutcome> {
  const [message, entry, receipt] = await Promise.all([messageStates().doc(messageId).get(), findRecipient(messageId, deviceId), receiptsCollection(messageId).doc(deviceId).get()]);
  assertMayManage(sender, message.data());
  const outcome = entry?.kind === "document" ? fromDocument(messageId, entry.recipientId, entry.doc) : entry && fromPage(messageId, deviceId, entry.page, entry.index);
  if (!outcome) throw new HttpsError("not-found", "This device is not a recipient of this message (or its page is not sent yet).", { field: "deviceId" });
  return { ...outcome, ...receiptTimes(receipt.data()) };
}
