import { defineInt } from "firebase-functions/params";

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
