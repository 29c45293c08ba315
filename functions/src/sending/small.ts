import { Timestamp, type DocumentData } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import type { ClaimedRecipient } from "../delivery/claim";
import { dispatchSettings, sendOwnClaims } from "../delivery/dispatch";
import type { DeviceDoc } from "../devices/schema";
import { recipientsCollection } from "../messages/collection";
import { recipientDoc, type MessageDoc } from "../messages/schema";
import { readQuotaWait } from "../ops/fcm";
import { budgetSpentUntil } from "../ops/fcmBudget";
import { readSwitch } from "../ops/pause";
import { STATUS } from "../shared/contract";
import { db } from "../shared/firestore";
import { messageTenant, inTenant, partPages, type AudienceDevice } from "./audience";
import { validateMessageDocument } from "./expansion";
import { planParts } from "./parts";
import { pageRecipients, pendingRecipient } from "./recipients";

/*
 * The priority lane: a small send — a teacher to a parent, a handful of
 * users or devices — is written whole by the call that makes it, message and
 * recipients in one commit, and sent by that call: no expansion task, no
 * page, no trigger hop, nothing queued behind a broadcast's tasks, and the
 * reserved share of the FCM rate (ops/fcmBudget.ts). The recipients are
 * written already claimed (in-process, under a lease, as a dispatch batch
 * claims them), so their creation trigger has nothing to do; the call sends
 * them and writes their outcomes as a batch does. A call that dies after its
 * commit leaves them to the sweep, which hands recipients whose lease ran
 * out back to the dispatch, as it does for a batch that died.
 *
 * While the emergency stop holds, FCM's quota wait runs or the lane's window
 * of the FCM rate is spent, the recipients are written pending instead and
 * the dispatch sends them when it may. Anything larger, scheduled, or not
 * valid as a document takes the background expansion as before
 * (expansion.ts).
 */

/** The most devices a send's call writes and sends itself; a larger audience is expanded in the background. */
export const SMALL_SEND_DEVICES = 100;

export interface SmallSend {
  recipients: Array<{ id: string; data: DocumentData }>;
  /** The devices as the call read them: the send does not read them again. */
  devices: Map<string, DeviceDoc>;
  /** The call sends them itself (they are written claimed); false: written pending, for the dispatch. */
  sendNow: boolean;
}

/**
 * The recipients of `fields` (the message document about to be created) if
 * it is a small send: a `users` or `devices` audience of one part whose live
 * devices number at most SMALL_SEND_DEVICES, due now. Undefined otherwise.
 * Reads the audience's devices (one query or one getAll), as the expansion's
 * part would, and leaves out the same devices it would (retired, disabled,
 * another tenant's, muted for the category).
 */
export async function smallSend(fields: MessageDoc): Promise<SmallSend | undefined> {
  const { audience } = fields;
  if (audience === undefined || fields.sendAt !== null || !("users" in audience || "devices" in audience)) return undefined;
  const checked = validateMessageDocument(fields);
  if (!checked.ok) return undefined;
  const tenant = messageTenant(fields.tenant);
  const scoped = inTenant(tenant, checked.input.audience);
  const parts = planParts(scoped, 1);
  const [spec] = parts;
  if (parts.length !== 1 || spec === undefined || ("devices" in scoped && scoped.devices.length > SMALL_SEND_DEVICES)) return undefined;
  const [devices, deliverySwitch, quotaWait] = await Promise.all([audienceOf(scoped, spec, undefined, tenant), readSwitch(), readQuotaWait()]);
  if (devices === undefined) return undefined;
  const { category, vars, urgency, sendAtLocal } = checked.input;
  const recipients = await pageRecipients({ category, vars, tenant, urgency, sendAtLocal }, devices);
  const sendNow = !deliverySwitch.paused && quotaWait === undefined && budgetSpentUntil("priority") === undefined;
  const leaseExpiresAt = Timestamp.fromMillis(Date.now() + dispatchSettings().leaseSeconds * 1000);
  return {
    // A recipient held for its device's local time or quiet hours is written pending, for the dispatch to send at its moment.
    recipients: recipients.map((recipient) => ({
      id: recipient.id,
      data: { ...pendingRecipient(recipient), ...(sendNow && !recipient.hold && { status: STATUS.inProcess, attempts: 1, leaseExpiresAt }) },
    })),
    devices: new Map(devices.flatMap((d) => (d.device ? [[d.deviceId, d.device] as const] : []))),
    sendNow,
  };
}

async function audienceOf(...args: Parameters<typeof partPages>): Promise<AudienceDevice[] | undefined> {
  const devices: AudienceDevice[] = [];
  for await (const page of partPages(...args)) {
    devices.push(...page.devices);
    if (devices.length > SMALL_SEND_DEVICES) return undefined;
  }
  return devices;
}

/**
 * Sends a small send's recipients, written claimed in the commit that just
 * created `message`: each claim's write time (read back, one read per
 * recipient) fences its outcome, as a batch's claim does.
 */
export async function sendSmall(messageId: string, message: MessageDoc, small: SmallSend, ms: { read: number; commit: number }): Promise<void> {
  if (!small.sendNow || small.recipients.length === 0) return;
  const started = performance.now();
  const recipients = recipientsCollection(messageId);
  const snapshots = await db().getAll(...small.recipients.map((r) => recipients.doc(r.id)));
  const claimed: ClaimedRecipient[] = snapshots.flatMap((snapshot) => {
    const data = recipientDoc.safeParse(snapshot.data()).data;
    return data && data.status === STATUS.inProcess && snapshot.updateTime ? [{ id: snapshot.id, ref: snapshot.ref, data, attempt: 1, claimedAt: snapshot.updateTime }] : [];
  });
  const summary = await sendOwnClaims(messageId, message, claimed, small.devices);
  logger.info("send: small send sent by its call", { ...summary, ms: { ...ms, send: Math.round(performance.now() - started) } });
}
