import { z } from "zod";
import type { KeyScope } from "../shared/contract";
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

/** What every delivery's body is: the event's id and type, when it happened, and its data. */
export interface WebhookEnvelope {
  id: string;
  type: WebhookEvent;
  createdAt: string;
  data: Record<string, unknown>;
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
