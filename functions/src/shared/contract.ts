/**
 * The contract that apps, partners and tests rely on (docs/contract.md), defined
 * once: collection names, status codes, retirement reasons, limits, scopes.
 * Everything else imports from here; a change here changes docs/contract.md.
 */

/** The task-queue function that sends one batch; the queue carries its name. */
export const DISPATCH_FUNCTION = "dispatchBatch";
/** The task function that writes a sent page's recipient documents (delivery/pages.ts). */
export const RECORD_PAGE_FUNCTION = "recordPage";
/** The task function that counts a message's receipts into its summary and the hour's metrics (receipts/tally.ts). */
export const TALLY_RECEIPTS_FUNCTION = "tallyReceipts";
/** The task function that POSTs one signed event to one partner's webhook endpoint (webhooks/deliver.ts). */
export const DELIVER_WEBHOOK_FUNCTION = "deliverWebhook";
/** The task function that looks at a key's message until it is finished, then announces it to the key's webhooks (webhooks/watch.ts). */
export const WATCH_WEBHOOK_MESSAGE_FUNCTION = "watchWebhookMessage";

export const COLLECTIONS = {
  devices: "devices",
  messages: "messages",
  recipients: "recipients",
  /**
   * `messages/{messageId}/counters/{slot}`: how many of the message's recipients
   * reached each final status (summed over the slots), kept in step with the recipients (same commits).
   */
  counters: "counters",
  /** `messages/{messageId}/expansion/{part}`: progress of one part of an audience being written into recipients; no client access. */
  expansion: "expansion",
  /** `messages/{messageId}/pages/{pageId}`: a page of devices an expansion part sends itself, and its outcomes until they are recorded; no client access. */
  pages: "pages",
  /** `messages/{messageId}/translations/{language}`: a machine translation of the message, made once per message and language (languages/machine.ts); no client access. */
  translations: "translations",
  /**
   * `messages/{messageId}/receipts/{deviceId}`: what the app reported for one device (`receivedAt`, `openedAt`), written
   * only by `ackMessage`; no client access. Their counts live on `counters/receipts` (RECEIPTS_SUMMARY_ID).
   */
  receipts: "receipts",
  /** `preferences/{uid}`: a user's own settings (muted categories); readable by that user only. */
  preferences: "preferences",
  /**
   * `userAttributes/{id}`: the attributes the school set for one user (role, grade, class…), copied onto
   * that user's devices as `attributes`; the id is the SHA-256 (hex) of the stored user id. No client access.
   */
  userAttributes: "userAttributes",
  /** `accessKeys/{keyId}`: partner servers' API keys, stored as hashes; no client access. */
  accessKeys: "accessKeys",
  /** `apiGuards/{id}`: IP-ban and rate-limit counters of the HTTPS API; no client access. */
  apiGuards: "apiGuards",
  /** `metrics/{hour}_{slot}`: delivery outcomes per hour, one increment per batch; no client access. */
  metrics: "metrics",
  /** `ops/delivery`: the emergency stop (paused, reason, by, at); `ops/fcmQuota`: until when the project waits for FCM's quota (until, at); `ops/fcmBudget` (perMinute, set by `npm run ops -- fcm-rate`) and its `shards/{n}` (minute, used): the project's FCM rate; no client writes. */
  ops: "ops",
  /** `webhooks/{webhookId}`: partner keys' webhook endpoints (URL, events, the signing secret); no client access. */
  webhooks: "webhooks",
} as const;

/**
 * The id, among a message's `counters`, of its receipts summary (`received`, `opened`, `talliedAt`): written
 * by the tally task at most once per RECEIPT_TALLY_SECONDS, beside the outcome slots (numbered 0–31).
 */
export const RECEIPTS_SUMMARY_ID = "receipts";

/** What an app reports about a notification (`ackMessage`): it arrived on the device, or the user tapped it. */
export const RECEIPT_EVENTS = ["received", "opened"] as const;
export type ReceiptEvent = (typeof RECEIPT_EVENTS)[number];

/** The stages of a message's funnel a staff member lists recipients by (`listRecipientsByReceipt`): all among the recipients FCM accepted. */
export const RECEIPT_STAGES = ["not-received", "not-opened", "opened"] as const;
export type ReceiptStage = (typeof RECEIPT_STAGES)[number];

/** Per-recipient delivery status. Positive values other than 200 are FCM's HTTP status of a final failure. */
export const STATUS = {
  pending: -1,
  inProcess: -2,
  cancelled: -3,
  skippedDisabled: -4,
  notRegistered: -99,
  accepted: 200,
} as const;

/**
 * The final code for a send that never got an HTTP answer: a timeout or
 * dropped connection, or a worker whose lease kept expiring until the
 * recipient's attempts were spent (statusMessage tells which).
 */
export const NO_ANSWER_STATUS = 504;

/**
 * The final code of a recipient whose send FCM answered THIRD_PARTY_AUTH_ERROR
 * (401): APNs or web push rejected the project's credentials. FCM's own
 * status; the device is not retired, the credentials need fixing.
 */
export const THIRD_PARTY_AUTH_STATUS = 401;

/** True when a recipient with this status will not change any more. */
export function isFinalStatus(status: number): boolean {
  return status !== STATUS.pending && status !== STATUS.inProcess;
}

/**
 * True for a final failure worth sending again: FCM's HTTP status of an error
 * (400, 403, 429, 500, 503, 504…). Not -3 cancelled, -4 skipped or -99 no
 * longer registered: those were never going to reach the device.
 */
export function isFailureStatus(status: number): boolean {
  return status > 0 && status !== STATUS.accepted;
}

export const PLATFORMS = ["ios", "android", "web"] as const;
export type Platform = (typeof PLATFORMS)[number];

export const RETIRED_REASONS = ["unregistered", "invalid", "sender-mismatch", "stale", "replaced"] as const;
export type RetiredReason = (typeof RETIRED_REASONS)[number];

export const LIMITS = {
  titleMax: 50,
  bodyMax: 1800,
  /** FCM rejects a message whose payload exceeds this many bytes. */
  fcmPayloadBytes: 4096,
  userInfoEntries: 20,
  /** Attributes the school may hold for one user (devices/attributes.ts). */
  userAttributesMax: 20,
  /** How far ahead `sendAt` may be: Cloud Tasks schedules at most 30 days ahead. */
  sendAheadDays: 30,
  /** Devices in one `POST /v1/devices:batchImport` request (`npm run import` sends a file's rows in batches of this size). */
  importBatchMax: 1000,
  /** Users or devices named in one audience (the rest of a large audience is a `where` or `all`). */
  audienceListMax: 1000,
  /** Key/value pairs in one `where` audience (Firestore allows 30 disjunctions in an OR query). */
  audienceWhereMax: 10,
  mutedCategoriesMax: 50,
  /** A message's `vars`, as JSON: they live on the message document, which Firestore caps at 1 MiB with everything else. */
  varsMaxBytes: 256 * 1024,
} as const;

/** FCM's longest time to live: 28 days. */
export const MAX_TTL_SECONDS = 28 * 24 * 3600;

/** A message's urgency: `emergency` goes out at once past quiet hours and local-time scheduling (needs the `pushEmergency` claim or the `messages:emergency` scope). */
export const URGENCIES = ["normal", "emergency"] as const;
export type Urgency = (typeof URGENCIES)[number];

/** Lifecycle of a message as the report shows it. */
export const MESSAGE_STATES = ["preparing", "scheduled", "sending", "done", "cancelled", "invalid"] as const;
export type MessageState = (typeof MESSAGE_STATES)[number];

/**
 * Scopes an access key of the HTTPS API may hold. `devices:import` is bulk
 * registration only (`POST /v1/devices:batchImport`), apart from
 * `devices:write`: a migration job gets no right to delete devices or to send.
 */
export const KEY_SCOPES = ["devices:write", "devices:import", "messages:send", "messages:broadcast", "messages:emergency", "users:write", "webhooks:write"] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];

/** Where a key works: the AirNotifier-compatible endpoints Moodle calls, or the partner API `/v1`. */
export const KEY_SURFACES = ["moodle", "api"] as const;
export type KeySurface = (typeof KEY_SURFACES)[number];

/**
 * The tenant of the apps' own signed-in users: every device registered
 * through `registerDevice` belongs to it, under the user's Firebase uid. A
 * key of this tenant sends to those users and never registers or deletes a
 * device. Every other tenant is one site or partner, whose user ids are its
 * own names.
 */
export const APP_TENANT = "app";
