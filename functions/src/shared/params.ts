import { defineBoolean, defineInt, defineString } from "firebase-functions/params";

export const RUNTIME_SERVICE_ACCOUNT = defineString("RUNTIME_SERVICE_ACCOUNT", {
  default: "push-runtime@",
  description:
    "The service account every function runs as, holding only the roles docs/deploy.md lists. `name@` is completed with PROJECT_ID.iam.gserviceaccount.com; create it before the first deploy.",
});

/**
 * Tunables, as firebase-functions params: set them in `functions/.env.<project>`
 * (or the environment of the emulators) and they are read inside the handlers.
 */
export const BATCH_SIZE = defineInt("DISPATCH_BATCH_SIZE", {
  default: 500,
  description: "Recipients one task claims and sends with one sendEach call (FCM allows at most 500).",
});

export const SHARDS = defineInt("DISPATCH_SHARDS", {
  default: 8,
  description: "How many disjoint recipient-ID ranges of one message are worked on in parallel.",
});

export const WINDOW_SECONDS = defineInt("DISPATCH_WINDOW_SECONDS", {
  default: 1,
  description: "New recipients of one message and shard within this many seconds share one task.",
});

export const MESSAGE_WAIT_SECONDS = defineInt("DISPATCH_MESSAGE_WAIT_SECONDS", {
  default: 60,
  description:
    "How long recipients wait for their message document when it does not exist yet (a job writing both in parallel, recipients first); after that they end with status 400 and a reason.",
});

export const MAX_ATTEMPTS = defineInt("DELIVERY_MAX_ATTEMPTS", {
  default: 5,
  description: "Send attempts per recipient before a transient FCM error (429/500/503/timeout) becomes final.",
});

export const RETRY_BASE_MS = defineInt("DELIVERY_RETRY_BASE_MS", {
  default: 2000,
  description: "First backoff after a transient FCM error, in milliseconds; doubles with each attempt (Retry-After wins when longer).",
});

export const RETRY_MAX_SECONDS = defineInt("DELIVERY_RETRY_MAX_SECONDS", {
  default: 300,
  description: "Longest backoff between two attempts of one recipient.",
});

export const LEASE_SECONDS = defineInt("DELIVERY_LEASE_SECONDS", {
  default: 300,
  description: "How long a claimed (-2) recipient belongs to its task; longer than the task's time limit.",
});

export const TASK_MAX_CONCURRENT = defineInt("DISPATCH_MAX_CONCURRENT", {
  default: 50,
  description: "Cloud Tasks: batches sent at the same time.",
});

export const TASK_MAX_PER_SECOND = defineInt("DISPATCH_MAX_PER_SECOND", {
  default: 15,
  description: "Cloud Tasks: batches started per second. 15 × 500 = 450,000 messages a minute, under FCM's default 600,000.",
});

export const API_BAN_FAILURES = defineInt("API_BAN_FAILURES", {
  default: 10,
  description: "HTTPS API: failed authentications from one IP within the window that ban the IP.",
});

export const API_BAN_WINDOW_SECONDS = defineInt("API_BAN_WINDOW_SECONDS", {
  default: 600,
  description: "HTTPS API: the fixed window in which failed authentications from one IP are counted.",
});

export const API_BAN_SECONDS = defineInt("API_BAN_SECONDS", {
  default: 3600,
  description: "HTTPS API: how long a banned IP gets 429 to every request.",
});

export const API_KEY_RATE_PER_MINUTE = defineInt("API_KEY_RATE_PER_MINUTE", {
  default: 600,
  description: "HTTPS API: requests one access key may make per minute (fixed one-minute windows).",
});

export const API_MAX_BODY_BYTES = defineInt("API_MAX_BODY_BYTES", {
  default: 262144,
  description: "HTTPS API: larger request bodies are refused with 413.",
});

export const API_IMPORT_MAX_BODY_BYTES = defineInt("API_IMPORT_MAX_BODY_BYTES", {
  default: 2097152,
  description:
    "HTTPS API: the body size allowed for POST /v1/devices:batchImport (up to 1,000 devices; a real FCM token alone is about 160 bytes), instead of API_MAX_BODY_BYTES; larger bodies are refused with 413.",
});

export const HOSTING_PROXY_RANGES = defineString("HOSTING_PROXY_RANGES", {
  default: "fastly",
  description:
    "Keyed endpoints served through Firebase Hosting (the AirNotifier-compatible ones): the addresses Hosting's CDN reaches the function from, comma-separated CIDR ranges; `fastly` stands for Fastly's published ranges, `none` for no proxy. A request whose last X-Forwarded-For entry (the one Google's front end appends) lies in them came through Hosting, and its client is the entry Hosting appended before; any other request is a direct call, counted under that last entry. The partner API is not behind Hosting and trusts no proxy.",
});

export const SERVER_ATTRIBUTES = defineString("SERVER_ATTRIBUTES", {
  default: "role,school,schoolId,grade,class,group",
  description:
    "Comma-separated attribute names only the school sets (setUserAttributes, PUT /v1/users/{userId}/attributes): an app that sends one of them in registerDevice's userInfo is refused with invalid-argument (compared without regard to case). `where` audiences match only the attributes the school set, whatever this lists.",
});

export const SWEEP_SCHEDULE = defineString("SWEEP_SCHEDULE", {
  default: "every 5 minutes",
  description: "How often the sweep runs (Cloud Scheduler's App Engine syntax, e.g. \"every 5 minutes\", or a crontab line).",
});

export const SWEEP_PAGE_SIZE = defineInt("SWEEP_PAGE_SIZE", {
  default: 200,
  description: "Documents the sweep reads and changes per page (and per transaction; at most 500).",
});

export const SWEEP_TIME_BUDGET_SECONDS = defineInt("SWEEP_TIME_BUDGET_SECONDS", {
  default: 240,
  description: "The sweep starts no new page after this many seconds; what is left waits for the next run. Kept under the function's time limit.",
});

export const SWEEP_PENDING_AFTER_SECONDS = defineInt("SWEEP_PENDING_AFTER_SECONDS", {
  default: 600,
  description:
    "A message older than this that still has pending (-1) recipients gets its dispatch tasks enqueued again, in case one was lost. Longer than a normal delivery with its retries, so a healthy message rarely gets a spare task.",
});

export const DEVICES_PER_USER = defineInt("DEVICES_PER_USER", {
  default: 10,
  description:
    "Live devices one user may have. Registering one more retires that user's least recently registered device as `replaced` (phones are replaced without being unregistered), so one account can never hold more tokens than this.",
});

export const DEVICE_RETENTION_DAYS = defineInt("DEVICE_RETENTION_DAYS", {
  default: 30,
  description: "Retired devices are deleted this many days after they were retired.",
});

export const STALE_TOKEN_DAYS = defineInt("STALE_TOKEN_DAYS", {
  default: 270,
  description:
    "A live device whose token was not re-registered for this many days is retired as `stale`. FCM already calls a token unused for a month stale, and Android tokens expire after 270 days; apps refresh their token on start, so a device this quiet is gone.",
});

export const MESSAGE_RETENTION_DAYS = defineInt("MESSAGE_RETENTION_DAYS", {
  default: 90,
  description: "Messages and their recipients are deleted this many days after the message was created.",
});

export const MOODLE_APP_NAME = defineString("MOODLE_APP_NAME", {
  default: "commoodlemoodlemobile",
  description:
    "AirNotifier-compatible endpoints: the application name a Moodle site must send in X-AN-APP-NAME (its airnotifierappname setting). commoodlemoodlemobile is the stock Moodle app; a branded app has its own.",
});

export const MOODLE_SELF_SERVICE_KEYS = defineBoolean("MOODLE_SELF_SERVICE_KEYS", {
  default: false,
  description:
    "AirNotifier-compatible endpoints: when true, Moodle's \"Request access key\" button (POST /accesskeys/) issues a key with the scopes devices:write and messages:send to anyone who asks; when false it answers with an error telling the admin to ask the operator for a key.",
});

export const MOODLE_KEYS_PER_ADDRESS_PER_DAY = defineInt("MOODLE_KEYS_PER_ADDRESS_PER_DAY", {
  default: 3,
  description: "AirNotifier-compatible endpoints, with self-service keys on: keys one address may be issued per day (fixed UTC-day windows).",
});

export const MOODLE_NEW_DEVICES_PER_KEY_PER_DAY = defineInt("MOODLE_NEW_DEVICES_PER_KEY_PER_DAY", {
  default: 20000,
  description:
    "AirNotifier-compatible endpoints: new devices one Moodle key may create per day (fixed UTC-day windows), by registering or pushing to tokens it never used; a key's own `--new-devices-per-day` overrides it. A site's devices are created once each, so this bounds what a leaked or self-service key can make the project store.",
});

export const MOODLE_KEY_RATE_PER_MINUTE = defineInt("MOODLE_KEY_RATE_PER_MINUTE", {
  default: 6000,
  description:
    "AirNotifier-compatible endpoints: requests one Moodle site's key may make per minute. Higher than the partner API's rate because Moodle sends one push per device (a forum post to a 300-student course is 300 requests in a second or two) and drops a refused push for good.",
});

export const EXPANSION_PARTS = defineInt("EXPANSION_PARTS", {
  default: 8,
  description:
    "A broadcast (`all` or `where` audience) is expanded into recipients by this many parallel tasks, each over its own range of device ids (at most 64: one per character of the device-id alphabet).",
});

export const EXPANSION_SENDS = defineBoolean("EXPANSION_SENDS", {
  default: true,
  description:
    "Expansion parts send each page of up to 500 devices themselves (one sendEach) and write its recipient documents with their outcomes after, so a broadcast is not held to the pace at which a new collection of recipients can be written. false: parts write pending recipients and the dispatch tasks send them. Scheduled messages, and pages expanded while delivery is paused, always take the second way.",
});

export const COMPACT_BROADCASTS = defineBoolean("COMPACT_BROADCASTS", {
  default: true,
  description:
    "A broadcast's accepted recipients ({ all: true } and { where } audiences) are recorded on their pages, not as a document each: a million-device broadcast writes a few thousand documents. false: every recipient gets a document, as lists of users or devices do.",
});

export const EXPANSION_TIME_BUDGET_SECONDS = defineInt("EXPANSION_TIME_BUDGET_SECONDS", {
  default: 120,
  description: "An expansion task reads no new chunk of 500 devices after this many seconds; it enqueues its successor with its cursor instead. Kept well under the task function's time limit and the query stream's deadline.",
});

export const EXPANSION_MAX_CONCURRENT = defineInt("EXPANSION_MAX_CONCURRENT", {
  default: 32,
  description: "Cloud Tasks: expansion tasks running at the same time (all messages together).",
});

export const APP_CHECK_ENFORCED = defineBoolean("APP_CHECK_ENFORCED", {
  default: false,
  description:
    "Firebase App Check on the apps' callables (registerDevice, unregisterDevice, setDeviceEnabled, listDevices, resetBadge, setPreferences, ackMessage): true refuses a call without a valid App Check token. Turn it on once the apps that register devices ship with App Check (docs/deploy.md).",
});

export const FCM_MESSAGES_PER_MINUTE = defineInt("FCM_MESSAGES_PER_MINUTE", {
  default: 600000,
  description:
    "The project's FCM rate: sends per clock minute that every sending path together draws from (ops/fcmBudget.ts). FCM's default quota is 600,000 a minute; set it to what Firebase grants the project, or lower. `npm run ops -- fcm-rate` changes it without a deploy.",
});

export const FCM_RATE_WINDOW_SECONDS = defineInt("FCM_RATE_WINDOW_SECONDS", {
  default: 60,
  description:
    "The window FCM_MESSAGES_PER_MINUTE is counted in: each clock window of this many seconds may send its share of the rate. 60 is FCM's own; a shorter one smooths a broadcast's pace (the local stack uses 10 so that its test takes seconds).",
});

export const FCM_PROJECT_QUOTA_ANSWERS = defineInt("FCM_PROJECT_QUOTA_ANSWERS", {
  default: 50,
  description:
    "QUOTA_EXCEEDED answers to one sendEach that mean the project, not one device, is over FCM's rate: the whole project then waits for FCM's Retry-After (a minute if none), and those recipients wait with their attempt given back. Fewer are one device's own rate (retried with backoff like a 503).",
});

export const RETIREMENT_GUARD_MIN_SENDS = defineInt("RETIREMENT_GUARD_MIN_SENDS", {
  default: 200,
  description: "Guard against mass retirement: sends in the last minute (per function instance) below which the guard never trips.",
});

export const RETIREMENT_GUARD_PERCENT = defineInt("RETIREMENT_GUARD_PERCENT", {
  default: 50,
  description:
    "Guard against mass retirement: when more than this share (%) of the last minute's sends come back \"token dead\", further retirements are held as suspect until an operator confirms them (npm run ops -- retirements).",
});

export const EXPANSION_MAX_PER_SECOND = defineInt("EXPANSION_MAX_PER_SECOND", {
  default: 50,
  description: "Cloud Tasks: expansion tasks started per second.",
});

export const ACKS_PER_DEVICE_PER_MINUTE = defineInt("ACKS_PER_DEVICE_PER_MINUTE", {
  default: 60,
  description:
    "ackMessage: receipts one device may report per minute (fixed one-minute windows); more get resource-exhausted. An app reports at most two per notification, so this only stops one that loops, which would otherwise spend reads and writes on every call.",
});

export const RECEIPT_TALLY_SECONDS = defineInt("RECEIPT_TALLY_SECONDS", {
  default: 10,
  description:
    "A message's receipt counts are recounted at most once per window of this many seconds (one tallyReceipts task per message and window, run at its end): how far the report's and the metrics' received/opened figures may lag the acks, and what bounds the writes to the message's receipts summary.",
});

export const QUIET_HOURS = defineString("QUIET_HOURS", {
  default: "21:00-07:00",
  description:
    "The site's quiet hours, HH:MM-HH:MM in each device's own time zone (over midnight when the end is earlier): a normal message that would reach a device inside them waits until they end. Empty: none. A user's own choice (setPreferences quietHours) wins; emergencies ignore both.",
});

export const DEFAULT_TIME_ZONE = defineString("DEFAULT_TIME_ZONE", {
  default: "UTC",
  description: "The IANA time zone (e.g. America/Chicago) of a device that reported none: where its quiet hours and a message's sendAtLocal are read.",
});

export const MACHINE_TRANSLATION = defineBoolean("MACHINE_TRANSLATION", {
  default: false,
  description:
    "Machine translation through the Cloud Translation API (languages/machine.ts): messages with autoTranslate get a translation for every language of their audience the sender did not write, and staff may translate drafts. Needs the Cloud Translation API enabled and roles/cloudtranslate.user for the runtime service account. false: such messages and drafts are refused (failed-precondition), and nothing is called.",
});

export const WEBHOOK_WATCH_SECONDS = defineInt("WEBHOOK_WATCH_SECONDS", {
  default: 15,
  description:
    "How often a message sent by a key with webhooks is looked at until it is finished (one watchWebhookMessage task per look, a few reads each): how late `message.done` and `message.failed-recipients` may arrive after the last recipient is final. Messages of keys without webhooks are never looked at.",
});

export const WEBHOOK_RETRY_MIN_BACKOFF_SECONDS = defineInt("WEBHOOK_RETRY_MIN_BACKOFF_SECONDS", {
  default: 30,
  description:
    "The first wait before a failed webhook delivery is tried again (the deliverWebhook queue's minBackoffSeconds); each wait doubles up to an hour, and deliveries are retried for 26 hours (docs/webhooks.md, Retries). Read at deploy time.",
});
