import { z } from "zod";
import { LIMITS, MAX_TTL_SECONDS, URGENCIES } from "../shared/contract";
import { zTimestamp } from "../shared/firestore";

export { MAX_TTL_SECONDS } from "../shared/contract";

const locArgs = z.array(z.string().max(200)).max(20);

/**
 * `messages/{messageId}` as the delivery reads it. Documents may be written
 * directly (console, scripts), so this is also where a malformed one is caught.
 */
export const messageDoc = z.object({
  title: z.string().min(1).max(LIMITS.titleMax),
  body: z.string().min(1).max(LIMITS.bodyMax),
  data: z.record(z.string(), z.string()).optional(),
  link: z.string().max(2048).optional(),
  imageUrl: z.url().max(2048).optional(),
  sound: z.string().max(256).optional(),
  collapseKey: z.string().max(64).optional(),
  ttlSeconds: z.number().int().min(0).max(MAX_TTL_SECONDS).optional(),
  priority: z.enum(["normal", "high"]).optional(),
  badge: z.union([z.literal("increment"), z.number().int().min(0)]).optional(),
  titleLocKey: z.string().max(256).optional(),
  titleLocArgs: locArgs.optional(),
  bodyLocKey: z.string().max(256).optional(),
  bodyLocArgs: locArgs.optional(),
  actionLocKey: z.string().max(256).optional(),
  launchImage: z.string().max(256).optional(),
  /**
   * A data-only message: FCM gets no notification block and no platform
   * notification or alert fields, only `data` and the routing options
   * (collapse id, priority, time to live); the app decides what to show.
   * `title` and `body` stay required: they are the message's record (history,
   * reports) and are never sent.
   */
  dataOnly: z.boolean().optional(),
  /** The text in other languages, by BCP 47 tag: each device gets the best match for its locale (languages/tags.ts). */
  translations: z.record(z.string(), z.object({ title: z.string().min(1).max(LIMITS.titleMax), body: z.string().min(1).max(LIMITS.bodyMax) })).optional(),
  /** Machine-translate the text into every language of the audience the sender did not write (languages/machine.ts). */
  autoTranslate: z.boolean().optional(),
  senderId: z.string().nullable().optional(),
  createdAt: zTimestamp.optional(),
  // Written by sendMessage (issue #5); a message written directly has none of them.
  /** Users who muted this category get no recipient. */
  category: z.string().max(64).optional(),
  /** Delivery waits until then (the dispatch holds the message's tasks). */
  sendAt: zTimestamp.nullable().optional(),
  /** Delivery at this wall-clock time (`YYYY-MM-DDTHH:MM`) in each device's own time zone (sending/hours.ts); at most one of sendAt and sendAtLocal. */
  sendAtLocal: z.string().optional(),
  /** `emergency`: sent at once to every device, at high priority, past quiet hours, local-time scheduling and category mutes. Absent: normal. */
  urgency: z.enum(URGENCIES).optional(),
  /** Set by cancelMessage: nothing pending is sent any more. */
  cancelledAt: zTimestamp.nullable().optional(),
  /** The audience as asked for (without vars); a key's user ids as stored (`<tenant>:<userId>`). */
  audience: z.record(z.string(), z.unknown()).optional(),
  /** Set by the server for a key's message: the tenant whose devices its audience reaches (sending/audience.ts). */
  tenant: z.string().optional(),
  /** A Moodle site's push: its body and data are removed by the sweep once every recipient is final (sweep/private.ts). */
  privateContent: z.boolean().optional(),
  contentRemovedAt: zTimestamp.nullable().optional(),
  /** Per-user placeholder values for the audience's recipients (`{ [userId]: { name: value } }`). */
  vars: z.record(z.string(), z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]))).optional(),
  /** Set instead of recipients when a message document with an audience fails validation: the first failing field and why. Nothing is sent. */
  invalid: z.object({ field: z.string(), message: z.string() }).nullable().optional(),
  /** Recipient documents written for the audience; null (or absent, for a document written with an audience) while they are being written. */
  recipientCount: z.number().int().min(0).nullable().optional(),
  recipientsWrittenAt: zTimestamp.nullable().optional(),
  /** The sender's idempotency key and a hash of the request it came with (a repeat with another body is a conflict). */
  idempotencyKey: z.string().optional(),
  requestHash: z.string().optional(),
  /** How the message was sent: `callable` (staff), `api` (an access key) or `moodle` (a Moodle site's push, through the AirNotifier-compatible endpoints). */
  via: z.enum(["callable", "api", "moodle"]).optional(),
  /** Set by resendFailed: the message whose failed recipients this one sends to again. */
  resendOf: z.string().optional(),
  /** resendFailed: how many failed recipients the original had when the resend was asked for (what the call answered). */
  resendExpected: z.number().int().min(0).optional(),
  /** resendFailed's background writer: where it is in the original's failures (a JSON cursor), and when it last moved. */
  resendProgress: z
    .object({ cursor: z.string().nullable(), written: z.number().int().min(0), done: z.boolean(), updatedAt: zTimestamp })
    .optional(),
});
export type MessageDoc = z.infer<typeof messageDoc>;

/**
 * The fields a report reads: parsed on their own, so that a message document
 * written directly with bad content (its `invalid` reason recorded) still
 * has a report that says why.
 */
export const messageStateFields = messageDoc.pick({
  senderId: true,
  createdAt: true,
  sendAt: true,
  cancelledAt: true,
  audience: true,
  recipientCount: true,
  recipientsWrittenAt: true,
  invalid: true,
  urgency: true,
  sendAtLocal: true,
});

const varValue = z.union([z.string(), z.number(), z.boolean()]);

/** `messages/{messageId}/recipients/{recipientId}`; writers set only the contract fields, the rest default. */
export const recipientDoc = z.object({
  deviceId: z.string().min(1),
  userId: z.string().nullable().optional(),
  vars: z.record(z.string(), varValue).optional(),
  status: z.number().int(),
  statusMessage: z.string().nullable().optional(),
  attempts: z.number().int().min(0).optional(),
  leaseExpiresAt: zTimestamp.nullable().optional(),
  /** Not to be claimed before this time: the backoff after a transient failure. */
  retryAt: zTimestamp.nullable().optional(),
  /** Held for its device's local time or quiet hours (sending/hours.ts): until when (also its `retryAt`), and why. */
  heldUntil: zTimestamp.nullable().optional(),
  heldFor: z.enum(["localTime", "quietHours"]).nullable().optional(),
  /** The badge value computed for this recipient, reused if the send is retried. */
  badgeValue: z.number().int().nullable().optional(),
  sentAt: zTimestamp.nullable().optional(),
  fcmMessageId: z.string().nullable().optional(),
  /** The text the device got: a translation's tag, or "default" (languages/tags.ts). */
  language: z.string().optional(),
});
export type RecipientDoc = z.infer<typeof recipientDoc>;

/**
 * `messages/{messageId}/expansion/{part}`: one part of an audience being
 * expanded into recipients by its own task. `spec` is what the part covers;
 * `cursor` the last device id whose recipient is written; `written` how many
 * recipients the part created so far (progress for the report; the final
 * `recipientCount` is a count of the documents).
 */
export const expansionPartDoc = z.object({
  spec: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("range"), from: z.string().optional(), to: z.string().optional() }),
    z.object({ kind: z.literal("users"), users: z.array(z.string()) }),
    z.object({ kind: z.literal("devices"), devices: z.array(z.string()) }),
  ]),
  cursor: z.string().nullable(),
  written: z.number().int().min(0),
  done: z.boolean(),
  /** Why the part stopped early: `cancelled`. */
  stopped: z.string().nullable().optional(),
  updatedAt: zTimestamp,
});
export type ExpansionPartDoc = z.infer<typeof expansionPartDoc>;

/**
 * `messages/{messageId}/pages/{pageId}`: one page of up to 500 devices that an
 * expansion part sends itself (delivery/pages.ts). Created at "sending" with a
 * lease before the send, so that a part task run twice never sends one page
 * twice; "sent" once FCM's answers are in `outcomes` (in the order of
 * `recipients`), so that a run that dies while recording them does not send
 * again; "recorded" once every recipient document is written with its outcome.
 */
export const pageRecipient = z.object({
  id: z.string().min(1),
  deviceId: z.string().min(1),
  userId: z.string().nullable(),
});
export type PageRecipient = z.infer<typeof pageRecipient>;

export const pageOutcome = z.object({
  status: z.number().int(),
  statusMessage: z.string().nullable(),
  leaseExpiresAt: z.null(),
  retryAt: zTimestamp.nullable(),
  sentAt: zTimestamp.optional(),
  fcmMessageId: z.string().optional(),
  badgeValue: z.number().int().optional(),
  /** Attempts counted, when the send gave one back (FCM refused the project, or it was over FCM's quota). */
  attempts: z.number().int().min(0).optional(),
  /** The text the device got: a translation's tag, or "default". */
  language: z.string().optional(),
});
export type PageOutcome = z.infer<typeof pageOutcome>;

export const pageDoc = z.object({
  state: z.enum(["sending", "sent", "recorded"]),
  part: z.number().int().min(0),
  /** The send attempt of every recipient of the page: 2 and more when a run took the page over from one that died. */
  attempt: z.number().int().min(1),
  recipients: z.array(pageRecipient),
  outcomes: z.array(pageOutcome).optional(),
  /** The greatest device id on the page: a broadcast's pages cover disjoint ranges of device ids, so the lookup of one device finds its page by this. */
  lastDeviceId: z.string().optional(),
  /** Set when "recorded" compactly (a broadcast): only recipients not accepted got a document; the accepted ones' outcomes stay here. */
  compact: z.boolean().optional(),
  /** When recorded compactly: how many of its recipients FCM accepted (counted in the same commit). */
  accepted: z.number().int().min(0).optional(),
  leaseExpiresAt: zTimestamp,
  /** Recipient documents this page created (set when "recorded"). */
  created: z.number().int().min(0).optional(),
  updatedAt: zTimestamp,
});
export type PageDoc = z.infer<typeof pageDoc>;
