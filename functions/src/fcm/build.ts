import { createHash } from "node:crypto";
import type { Message } from "firebase-admin/messaging";
import { DEFAULT_TEXT, textFor } from "../languages/tags";
import { LIMITS } from "../shared/contract";
import { buildFcmPayload, payloadBytes, RecipientError, type BuildInput } from "./payload";

export { fillPlaceholders, payloadBytes, placeholderNames, RecipientError, type BuildInput } from "./payload";

/**
 * The collapse id of one recipient's notification: a rare resend (a worker that
 * died after FCM accepted) then replaces the first notification on the phone
 * instead of showing a second one. A message-level collapseKey wins, since
 * replacing is then what the sender asked for.
 */
export function collapseIdOf(messageId: string, recipientId: string): string {
  return createHash("sha256").update(`${messageId}/${recipientId}`).digest("base64url").slice(0, 32);
}

/** One FCM message for one recipient, with the block of the device's platform. */
export function buildFcmMessage(input: BuildInput): Message {
  const fcm = buildFcmPayload({ ...input, collapseId: input.message.collapseKey ?? collapseIdOf(input.messageId, input.recipientId) });
  const bytes = payloadBytes(fcm);
  if (bytes > LIMITS.fcmPayloadBytes) {
    throw new RecipientError(`payload too large: ${bytes} bytes, FCM accepts at most ${LIMITS.fcmPayloadBytes}; shorten the body or data`);
  }
  return fcm;
}

/**
 * One recipient's FCM message in the language its device gets, and which
 * language that is (`default` for the message's own text; none for a
 * data-only message, which carries no text). A translation that does not fit
 * FCM's limit for this recipient (a machine translation grown long, vars
 * filled in) gives way to the default text rather than failing the recipient.
 */
export function buildLocalizedFcmMessage(input: BuildInput): { fcm: Message; language?: string } {
  if (input.message.dataOnly) return { fcm: buildFcmMessage(input) };
  const { language } = textFor(input.message, input.locale);
  if (language === DEFAULT_TEXT) return { fcm: buildFcmMessage(input), language };
  try {
    return { fcm: buildFcmMessage(input), language };
  } catch (err) {
    if (!(err instanceof RecipientError)) throw err;
    return { fcm: buildFcmMessage({ ...input, locale: undefined }), language: DEFAULT_TEXT };
  }
}
