import { Timestamp } from "firebase-admin/firestore";
import type { DeviceDoc } from "../devices/schema";
import type { SendOutcome } from "../fcm/outcome";
import { STATUS } from "../shared/contract";

/*
 * The dispatch's decisions, with no I/O: what each claimed recipient becomes
 * (sent, ended with a reason, or back to pending with a backoff), and which
 * tasks a batch leaves behind. dispatch.ts reads, sends and writes; every
 * choice in between is made here, so it can be tested without a stack.
 */

/** The dispatch's settings, read once per task from the params. */
export interface Settings {
  batchSize: number;
  shards: number;
  leaseSeconds: number;
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  windowSeconds: number;
}

/** What becomes of one claimed recipient. */
type Outcome =
  | {
      kind: "final";
      status: number;
      statusMessage: string | null;
      /** Accepted by FCM: when, and FCM's id for it. */
      sent?: { atMs: number; fcmMessageId: string };
      /** The badge the notification showed, kept so that a resend shows the same. */
      badge?: number;
    }
  | { kind: "retry"; statusMessage: string; retryAtMs: number; badge?: number }
  /**
   * Back to pending with the attempt not spent: FCM refused the project (the
   * recipient waits for delivery to resume: no retryAtMs) or the project is
   * over FCM's quota (retryAtMs: when the project may send again).
   */
  | { kind: "held"; statusMessage: string; attempts: number; retryAtMs?: number; badge?: number };

/** What becomes of a recipient; with the language whose text its payload carried, once it was built (languages/tags.ts). */
export type Decision = Outcome & { language?: string };

export function ended(status: number, statusMessage: string | null): Decision {
  return { kind: "final", status, statusMessage };
}

/** The status a decision writes: a retry goes back to pending. */
export function statusOf(decision: Decision): number {
  return decision.kind === "final" ? decision.status : STATUS.pending;
}

/** The recipient document fields a decision writes (the lease is always released). */
export interface RecipientUpdate {
  status: number;
  statusMessage: string | null;
  leaseExpiresAt: null;
  retryAt: Timestamp | null;
  sentAt?: Timestamp;
  fcmMessageId?: string;
  badgeValue?: number;
  /** Set when an attempt is given back (a held recipient). */
  attempts?: number;
  /** The text the device got: a translation's tag, or "default". */
  language?: string;
}

export function toUpdate(decision: Decision): RecipientUpdate {
  const badge = { ...(decision.badge !== undefined && { badgeValue: decision.badge }), ...(decision.language !== undefined && { language: decision.language }) };
  if (decision.kind === "held") {
    const retryAt = decision.retryAtMs !== undefined ? Timestamp.fromMillis(decision.retryAtMs) : null;
    return { status: STATUS.pending, statusMessage: decision.statusMessage, leaseExpiresAt: null, retryAt, attempts: decision.attempts, ...badge };
  }
  if (decision.kind === "retry") {
    return { status: STATUS.pending, statusMessage: decision.statusMessage, leaseExpiresAt: null, retryAt: Timestamp.fromMillis(decision.retryAtMs), ...badge };
  }
  const sent = decision.sent ? { sentAt: Timestamp.fromMillis(decision.sent.atMs), fcmMessageId: decision.sent.fcmMessageId } : {};
  return { status: decision.status, statusMessage: decision.statusMessage, leaseExpiresAt: null, retryAt: null, ...sent, ...badge };
}

/**
 * Whether a claimed recipient can be sent to its device: a recipient written
 * wrong, a device that is missing, retired or switched off ends here.
 * Returns undefined for a recipient to send.
 */
export function triage(problem: string | undefined, device: DeviceDoc | undefined): Decision | undefined {
  if (problem) return ended(400, problem);
  if (!device) return ended(STATUS.notRegistered, "device not registered");
  if (device.retired) return ended(STATUS.notRegistered, `device retired (${device.retiredReason ?? "unknown reason"})`);
  if (!device.enabled) return ended(STATUS.skippedDisabled, "device switched off by its owner");
  return undefined;
}

/**
 * The wait before attempt `attempt + 1`: exponential from the base, capped,
 * jittered ±20% (`random` in [0, 1)), and never shorter than FCM's Retry-After.
 */
export function retryDelayMs(attempt: number, config: Pick<Settings, "retryBaseMs" | "retryMaxMs">, retryAfterSeconds: number | undefined, random: number): number {
  const backoff = Math.min(config.retryMaxMs, config.retryBaseMs * 2 ** (attempt - 1)) * (0.8 + random * 0.4);
  return Math.max(backoff, (retryAfterSeconds ?? 0) * 1000);
}

/** What FCM's answer to attempt `attempt` makes of a recipient. */
export function decideOutcome(outcome: SendOutcome, attempt: number, config: Settings, nowMs: number, badge: number | undefined, random = Math.random()): Decision {
  const shown = badge !== undefined ? { badge } : {};
  switch (outcome.kind) {
    case "accepted":
      return { kind: "final", status: STATUS.accepted, statusMessage: null, sent: { atMs: nowMs, fcmMessageId: outcome.fcmMessageId }, ...shown };
    case "dead-token":
    case "failed":
      return ended(outcome.status, outcome.statusMessage);
    case "project-fault":
      return { kind: "held", statusMessage: `${outcome.statusMessage} (FCM refused the project; delivery stopped, attempt not counted)`, attempts: attempt - 1, ...shown };
    case "transient":
      if (attempt >= config.maxAttempts) return ended(outcome.status, `${outcome.statusMessage} (gave up after ${attempt} attempts)`);
      // Back to pending, not to be claimed before the backoff ends; the badge already shown is reused.
      return {
        kind: "retry",
        statusMessage: `${outcome.statusMessage} (attempt ${attempt} of ${config.maxAttempts}, will retry)`,
        retryAtMs: nowMs + retryDelayMs(attempt, config, outcome.retryAfterSeconds, random),
        ...shown,
      };
  }
}

/** The shard comes back once the last of its backoffs is over (every retry of the batch is due by then). */
export function latestRetryAt(decisions: Iterable<Decision>): number | undefined {
  let latest: number | undefined;
  for (const decision of decisions) {
    // A recipient held for a project fault has no time: delivery resuming dispatches it again.
    const at = decision.kind === "retry" || decision.kind === "held" ? decision.retryAtMs : undefined;
    if (at !== undefined) latest = Math.max(latest ?? 0, at);
  }
  return latest;
}

/** How soon a task comes back for recipients it could not claim because of contention. */
export const CONTENDED_RETRY_MS = 2000;
/** Contention retries in a row before a shard is left to the sweep's pending pass (and logged as such). */
export const MAX_CONTENDED_RETRIES = 10;

/** When to come back after the `contended`-th contended claim in a row, or undefined to leave the shard to the sweep. */
export function contendedRetryAt(contended: number, nowMs: number): number | undefined {
  return contended <= MAX_CONTENDED_RETRIES ? nowMs + CONTENDED_RETRY_MS * contended : undefined;
}

/** How the outcomes that landed add up, for the task's summary. */
export function tally(statuses: Iterable<number>): { accepted: number; retrying: number; final: number } {
  const counts = { accepted: 0, retrying: 0, final: 0 };
  for (const status of statuses) {
    if (status === STATUS.pending) counts.retrying += 1;
    else {
      counts.final += 1;
      if (status === STATUS.accepted) counts.accepted += 1;
    }
  }
  return counts;
}
