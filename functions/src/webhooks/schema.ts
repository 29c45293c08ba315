import { z } from "zod";
import { RETIRED_REASONS, type KeyScope } from "../shared/contract";
import { zTimestamp } from "../shared/firestore";
import { WEBHOOK_URL_MAX } from "./address";

/** The events a webhook may subscribe to (docs/webhooks.md shows each body). */
export const WEBHOOK_EVENTS = ["message.done", "message.failed-recipients", "message.receipts", "device.retired"] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/**
 * The scope a key needs, beside `webhooks:write`, to subscribe to an event:
 * the message events report what `GET /v1/messages/{id}` shows (the key's
 * own messages), and `device.retired` carries device tokens, which only a
 * key that manages the tenant's devices has any business with.
 */
export const EVENT_SCOPES: Record<WebhookEvent, readonly KeyScope[]> = {
  "message.done": ["messages:send"],
  "message.failed-recipients": ["messages:send"],
  "message.receipts": ["messages:send"],
  "device.retired": ["devices:write", "devices:import"],
};

/** How many endpoints one key may have. */
export const WEBHOOKS_PER_KEY = 5;

/** How many failed recipients a `message.failed-recipients` body lists at most; `failed` gives the whole count. */
export const FAILED_RECIPIENTS_LISTED = 100;

export const webhookIdSchema = z.string().regex(/^wh_[0-9a-f]{24}$/, "must be a webhook id (wh_ and 24 hex digits)");

export const createWebhookInput = z.strictObject({
  url: z.string().min(1, "must not be empty").max(WEBHOOK_URL_MAX, `must be at most ${WEBHOOK_URL_MAX} characters`),
  events: z
    .array(z.enum(WEBHOOK_EVENTS, { error: `must be among ${WEBHOOK_EVENTS.join(", ")}` }))
    .min(1, "must hold at least one event")
    .max(WEBHOOK_EVENTS.length)
    .refine((events) => new Set(events).size === events.length, "must not repeat an event"),
});
export type CreateWebhookInput = z.infer<typeof createWebhookInput>;

/** `webhooks/{webhookId}`: the secret is kept because every delivery is signed with it; it is never returned after creation, nor logged. */
export const webhookDoc = z.object({
  keyId: z.string(),
  tenant: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  secret: z.string(),
  createdAt: zTimestamp,
});
export type WebhookDoc = z.infer<typeof webhookDoc>;

/** An endpoint as `GET /v1/webhooks` lists it: everything but the secret. */
export const webhookSummary = z.strictObject({
  webhookId: webhookIdSchema,
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  createdAt: z.string(),
});
export type WebhookSummary = z.infer<typeof webhookSummary>;

/** `POST /v1/webhooks`: the endpoint and, this once, its signing secret. */
export const createdWebhook = webhookSummary.extend({
  secret: z.string().describe("The signing secret (whsec_…): shown this once, never again."),
});
export type CreatedWebhook = z.infer<typeof createdWebhook>;

export const webhookList = z.strictObject({ webhooks: z.array(webhookSummary) });
export const deletedWebhook = z.strictObject({ webhookId: webhookIdSchema, deleted: z.literal(true) });

/** `message.failed-recipients`: the count of failed recipients and a bounded list of them. */
export const failedRecipientsData = z.strictObject({
  messageId: z.string(),
  /** Every final failure (FCM's HTTP status) and -99 (device found retired): the whole count. */
  failed: z.number().int().min(1),
  recipients: z
    .array(z.strictObject({ deviceId: z.string(), userId: z.string().nullable(), status: z.number().int(), statusMessage: z.string().nullable() }))
    .max(FAILED_RECIPIENTS_LISTED),
  /** More failed than listed. */
  truncated: z.boolean(),
});

/** `message.receipts`: the message's receipt totals so far, as tallied. */
export const receiptsData = z.strictObject({
  messageId: z.string(),
  receipts: z.strictObject({ received: z.number().int().min(0), opened: z.number().int().min(0) }),
  talliedAt: z.iso.datetime(),
});

/** `device.retired`: enough for the partner to find and forget the token. */
export const deviceRetiredData = z.strictObject({
  deviceId: z.string(),
  /** The user id as the partner gave it. */
  userId: z.string(),
  token: z.string(),
  reason: z.enum(RETIRED_REASONS),
  retiredAt: z.iso.datetime(),
});

/** What every delivery's body is: the event's id and type, when it was made, and its data. */
export function envelopeSchema<T extends WebhookEvent, D extends z.ZodType>(type: T, data: D) {
  return z.strictObject({ id: z.string().regex(/^evt_[0-9a-f]{32}$/), type: z.literal(type), createdAt: z.iso.datetime(), data });
}

export interface WebhookEnvelope {
  id: string;
  type: WebhookEvent;
  createdAt: string;
  data: object;
}

/** One delivery: the body is kept as the exact text that is signed and sent, the same on every attempt. */
export const deliveryTask = z.strictObject({
  webhookId: webhookIdSchema,
  eventId: z.string().min(1),
  type: z.enum(WEBHOOK_EVENTS),
  body: z.string().min(2),
});
export type DeliveryTask = z.infer<typeof deliveryTask>;

/** One look at a key's message: `round` numbers the looks, so that each has a task id of its own. */
export const watchTask = z.strictObject({ messageId: z.string().min(1), round: z.number().int().min(0) });
export type WatchTask = z.infer<typeof watchTask>;
