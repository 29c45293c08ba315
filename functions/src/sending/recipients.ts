import { createHash } from "node:crypto";
import { GrpcStatus } from "firebase-admin/firestore";
import { APP_TENANT, STATUS } from "../shared/contract";
import { db } from "../shared/firestore";
import { recipientsCollection } from "../messages/collection";
import type { PageRecipient } from "../messages/schema";
import { localUserId } from "../devices/owner";
import type { AudienceDevice } from "./audience";
import { mutedFilter } from "../devices/mutes";
import type { Urgency } from "../shared/contract";
import { heldFields, holdOf, hoursSettings, mayHold, type Hold } from "./hours";

/**
 * The recipient id of a device within a message: derived from the device id,
 * so that one device gets at most one recipient per message however the
 * audience names it, and writing the audience again (a retried or repeated
 * task) creates nothing twice. Hashing also spreads ids evenly over the
 * dispatch shards, which device ids sharing a prefix would not.
 */
export function recipientIdFor(deviceId: string): string {
  return createHash("sha256").update(deviceId).digest("base64url").slice(0, 22);
}

export interface PageOptions {
  messageId: string;
  category?: string;
  /** Keyed by user id as the sender named them (devices/owner.ts, localUserId). */
  vars?: Record<string, Record<string, string | number | boolean>>;
  /** The message's tenant, if a key sent it. */
  tenant?: string;
  /** `emergency`: no device is held, and category mutes do not apply. */
  urgency?: Urgency;
  /** The message's local delivery time (sending/hours.ts). */
  sendAtLocal?: string;
  /** A scheduled message's sendAt (ms): quiet hours are read at that moment, not when the recipients are written. */
  sendAtMs?: number;
}

/** A recipient about to be written or sent: who, its vars, and until when it waits for its device's hours, if it does. */
export type PageRecipientDraft = PageRecipient & { vars?: Record<string, string | number | boolean>; hold?: Hold };

/**
 * The recipients of a page of devices: one per device, its id derived from
 * the device id, its `vars` from the message's; app users who muted the
 * message's category are left out, by each device's copy of its user's
 * mutes (devices/mutes.ts): no read, except of the preferences of users
 * whose devices were written before the copy. Preferences are the apps'
 * users' own: other tenants' devices are never left out.
 */
export async function pageRecipients(options: Omit<PageOptions, "messageId">, page: AudienceDevice[], nowMs = Date.now()): Promise<PageRecipientDraft[]> {
  if (page.length === 0) return [];
  const emergency = !mayHold(options);
  const appUser = (device: AudienceDevice) => (device.tenant ?? APP_TENANT) === APP_TENANT;
  // An emergency reaches every device of the audience: mutes are for normal news.
  const muted = options.category && !emergency ? (await mutedFilter(page.filter(appUser), options.category)).isMuted : () => false;
  const settings = emergency ? undefined : hoursSettings();
  return page
    .filter((device) => !(appUser(device) && muted(device)))
    .map((device) => {
      const vars = options.vars?.[localUserId(options.tenant, device.userId)];
      const hold = settings && holdOf(options, device.device, settings, Math.max(nowMs, options.sendAtMs ?? 0));
      return { id: recipientIdFor(device.deviceId), deviceId: device.deviceId, userId: device.userId, ...(vars && { vars }), ...(hold && { hold }) };
    });
}

/** A recipient document as the dispatch finds it new: pending, never tried (and, if held, not before its device's moment). */
export function pendingRecipient(recipient: PageRecipientDraft) {
  return {
    deviceId: recipient.deviceId,
    userId: recipient.userId,
    ...(recipient.vars && { vars: recipient.vars }),
    status: STATUS.pending,
    statusMessage: null,
    attempts: 0,
    ...(recipient.hold && heldFields(recipient.hold)),
  };
}

/**
 * Writes one pending recipient per device of a page (users who muted the
 * message's category left out), with a BulkWriter (batched, parallel, retried
 * on contention); the dispatch then sends them. `create` rather than `set`: a
 * recipient that already exists (written by an earlier run of the same page,
 * perhaps already sent) is left alone. Returns how many this call created.
 */
export async function writeRecipientPage(options: PageOptions, page: AudienceDevice[]): Promise<number> {
  return writePendingRecipients(options.messageId, await pageRecipients(options, page));
}

/** Writes these recipients pending (create: one that exists is left alone); how many this call created. */
export async function writePendingRecipients(messageId: string, recipientsOfPage: PageRecipientDraft[]): Promise<number> {
  if (recipientsOfPage.length === 0) return 0;
  const recipients = recipientsCollection(messageId);
  const writer = db().bulkWriter();
  writer.onWriteError((error) => error.code !== GrpcStatus.ALREADY_EXISTS && error.failedAttempts < 5);
  let created = 0;
  const pending: Array<Promise<unknown>> = [];
  for (const recipient of recipientsOfPage) {
    const write = writer
      .create(recipients.doc(recipient.id), pendingRecipient(recipient))
      .then(
        () => (created += 1),
        (err: { code?: number }) => {
          if (err.code !== GrpcStatus.ALREADY_EXISTS) throw err;
        },
      );
    pending.push(write);
  }
  await writer.close();
  await Promise.all(pending);
  return created;
}
