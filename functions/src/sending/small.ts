import type { DocumentData } from "firebase-admin/firestore";
import type { MessageDoc } from "../messages/schema";
import { messageTenant, inTenant, partPages, type AudienceDevice } from "./audience";
import { validateMessageDocument } from "./expansion";
import { planParts } from "./parts";
import { pageRecipients, pendingRecipient } from "./recipients";

/*
 * The priority lane's first half: a small send — a teacher to a parent, a
 * handful of users or devices — is written whole by the call that makes it,
 * message and pending recipients in one commit, as a direct write is. The
 * recipient trigger then sends each at once from its own invocation
 * (delivery/trigger.ts), on the reserved share of the FCM rate
 * (ops/fcmBudget.ts): no expansion task, no page, no record task, nothing
 * queued behind a broadcast's tasks. Anything larger, scheduled or not
 * valid as a document takes the background expansion as before
 * (expansion.ts), which also stays the answer for a call that dies before
 * its commit: then nothing was written.
 */

/** The most devices a send's call writes itself; a larger audience is expanded in the background. */
export const SMALL_SEND_DEVICES = 100;

export interface SmallSend {
  recipients: Array<{ id: string; data: DocumentData }>;
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
  const devices: AudienceDevice[] = [];
  for await (const page of partPages(scoped, spec, undefined, tenant)) {
    devices.push(...page.devices);
    if (devices.length > SMALL_SEND_DEVICES) return undefined;
  }
  const { category, vars } = checked.input;
  const recipients = await pageRecipients({ category, vars, tenant }, devices);
  return { recipients: recipients.map((recipient) => ({ id: recipient.id, data: pendingRecipient(recipient) })) };
}
