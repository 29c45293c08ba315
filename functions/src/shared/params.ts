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
