import { Timestamp } from "firebase-admin/firestore";
import type { Messaging } from "firebase-admin/messaging";
import { logger } from "firebase-functions";
import { messagingClient } from "../fcm/client";
import { classify, type SendOutcome } from "../fcm/outcome";
import { runTransaction } from "../shared/transaction";
import { switchOf, switchRef, type DeliverySwitch } from "./pause";
import { administerQueues } from "./queues";

/*
 * FCM's project-level faults. When FCM refuses the project rather than a
 * token (403 without a per-token detail: the FCM API disabled or the runtime
 * account without the messaging permission; 401: credentials refused; 404
 * without UNREGISTERED: a wrong project), every send would fail the same way
 * and no device is to blame. Delivery stops by itself, as `npm run ops --
 * pause` stops it, `by: "fcm"`; a probe (one validate_only send, at most once
 * a minute) lifts the stop when FCM answers normally again.
 */

/** Who a stop set by a project-level fault is by, on the switch, reports and `ops status`. */
export const FCM_STOP_BY = "fcm";
/** Who lifts it when the probe finds FCM well again. */
export const FCM_PROBE_BY = "fcm-probe";

/** The probe's message: validate_only to a topic, so no device's token is involved and nothing is delivered. */
const PROBE_MESSAGE = { topic: "push-service-probe", notification: { title: "probe", body: "validate_only" } };

type ProjectFaultOutcome = Extract<SendOutcome, { kind: "project-fault" }>;

/** What the switch's reason says of a fault: FCM's status and its message, as an operator reads it. */
export function faultReason(outcome: Pick<ProjectFaultOutcome, "status" | "fault" | "statusMessage">): string {
  return `FCM refused the project (HTTP ${outcome.status}, ${outcome.fault}): ${outcome.statusMessage}`.slice(0, 500);
}

/**
 * Stops delivery for a project-level answer, unless it is already stopped
 * (concurrent batches meet the same fault: the first sets the stop, the rest
 * find it set and write nothing). Then the queues are paused, as the ops
 * command pauses them. Returns whether this call set the stop.
 */
export async function stopForFcmFault(outcome: ProjectFaultOutcome, context: Record<string, unknown>): Promise<boolean> {
  const reason = faultReason(outcome);
  const set = await runTransaction("stopForFcmFault", async (tx) => {
    const current = switchOf((await tx.get(switchRef())).data());
    if (current.paused) return false;
    const state: DeliverySwitch = { paused: true, reason, by: FCM_STOP_BY, at: Timestamp.now() };
    tx.set(switchRef(), state);
    return true;
  });
  if (!set) return false;
  // The line a log-based alert matches: severity ERROR, "fcm: project-level fault".
  logger.error("fcm: project-level fault; delivery stopped until FCM answers normally (probe every minute) or `npm run ops -- resume`", {
    httpStatus: outcome.status,
    fault: outcome.fault,
    fcmMessage: outcome.statusMessage,
    ...context,
  });
  await administerQueues("pause");
  return true;
}

/** When FCM gives no Retry-After with a project-wide QUOTA_EXCEEDED: its quota is counted per minute. */
export const DEFAULT_QUOTA_WAIT_SECONDS = 60;

/** `ops/fcmQuota`: until when the whole project holds its sends because FCM said the project is over its quota. */
export function quotaRef() {
  return switchRef().parent.doc("fcmQuota");
}

/** Until when (ms) sends wait for FCM's quota, or undefined when they need not. One read per batch or page. */
export async function readQuotaWait(): Promise<number | undefined> {
  const until: unknown = (await quotaRef().get()).get("until");
  const ms = until instanceof Timestamp ? until.toMillis() : undefined;
  return ms !== undefined && ms > Date.now() ? ms : undefined;
}

/**
 * The project is over FCM's quota: every sending path (dispatch batches,
 * broadcast pages, inline batches) waits until `untilMs`. Written only when it
 * moves the wait on by more than a few seconds, so the batches that all meet
 * the same 429 write the document once or twice, not each.
 */
export async function holdForQuota(untilMs: number, context: Record<string, unknown>): Promise<void> {
  const moved = await runTransaction("holdForQuota", async (tx) => {
    const until: unknown = (await tx.get(quotaRef())).get("until");
    if (until instanceof Timestamp && until.toMillis() >= untilMs - 5_000) return false;
    tx.set(quotaRef(), { until: Timestamp.fromMillis(untilMs), at: Timestamp.now() });
    return true;
  });
  if (moved) logger.warn("fcm: project over FCM's quota; every send waits", { until: new Date(untilMs).toISOString(), ...context });
}

/** One validate_only send: what FCM says of the project now. */
export async function probeFcm(messaging: Messaging = messagingClient()): Promise<{ healthy: boolean; answer: string }> {
  try {
    const name = await messaging.send(PROBE_MESSAGE, true);
    return { healthy: true, answer: `accepted (validate_only): ${name}` };
  } catch (err) {
    const outcome = classify({ success: false, error: err as never });
    // Only a project-level answer keeps the stop: a transient error is the dispatch's to retry as usual.
    return { healthy: outcome.kind !== "project-fault", answer: "statusMessage" in outcome ? outcome.statusMessage : String(err) };
  }
}

/**
 * The scheduled probe's work: nothing (one read) unless delivery is stopped
 * by FCM; then a probe, and if FCM answers normally the stop is lifted (the
 * queues first, then the switch, as `ops resume` does), and only if the stop
 * is still FCM's own: a stop set by a person is never lifted by the probe.
 */
export async function probeAndResume(): Promise<"running" | "held-by-person" | "still-failing" | "resumed"> {
  const current = switchOf((await switchRef().get()).data());
  if (!current.paused) return "running";
  if (current.by !== FCM_STOP_BY) return "held-by-person";
  const probe = await probeFcm();
  if (!probe.healthy) {
    logger.warn("fcm: probe still refused; delivery stays stopped", { answer: probe.answer });
    return "still-failing";
  }
  await administerQueues("resume");
  const lifted = await runTransaction("fcmProbeResume", async (tx) => {
    const now = switchOf((await tx.get(switchRef())).data());
    if (!now.paused || now.by !== FCM_STOP_BY) return false;
    const state: DeliverySwitch = { paused: false, reason: null, by: FCM_PROBE_BY, at: Timestamp.now() };
    tx.set(switchRef(), state);
    return true;
  });
  if (!lifted) {
    // A person stopped delivery while the probe ran: their stop holds, queues included.
    await administerQueues("pause");
    return "held-by-person";
  }
  logger.info("fcm: probe answered normally; delivery resumed", { answer: probe.answer });
  return "resumed";
}
