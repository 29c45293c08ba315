import { getFunctions } from "firebase-admin/functions";
import type { Timestamp } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { localUserId } from "../devices/owner";
import { messageStates, recipientsCollection } from "../messages/collection";
import { STATUS, WATCH_WEBHOOK_MESSAGE_FUNCTION } from "../shared/contract";
import { adminApp } from "../shared/firestore";
import { WEBHOOK_WATCH_SECONDS } from "../shared/params";
import { enqueueEvent, senderKeyId } from "./events";
import type { z } from "zod";
import { FAILED_RECIPIENTS_LISTED, type failedRecipientsData, type WatchTask, type WebhookEvent } from "./schema";
import { endpointsOfKey } from "./service";

/*
 * `message.done` and `message.failed-recipients` come from a watch of the
 * message of its own, off the send path: when a key with such webhooks
 * creates a message, one task looks at the message's report every
 * WEBHOOK_WATCH_SECONDS (a few reads: the counters, the message) until it is
 * finished, then announces it. The dispatch, the pages and the sweep know
 * nothing of it, and a key without webhooks costs one read per message (at
 * its creation) and nothing more.
 */

const MESSAGE_EVENTS: readonly WebhookEvent[] = ["message.done", "message.failed-recipients"];

/**
 * A message not finished three days after its send time is not watched any
 * more (its recipients' retries end within minutes; only a stuck message gets
 * here, and it must not cost a look every few seconds until its retention ends).
 */
const WATCH_GIVE_UP_MS = 3 * 86_400_000;

/** The report a message's watch reads: what `GET /v1/messages/{id}` answers, passed in by the entry point (sending/report.ts). */
export interface WatchedReport {
  state: string;
  counts: Record<string, number>;
  [field: string]: unknown;
}
export type ReportOf = (messageId: string, senderId: string) => Promise<WatchedReport>;

/** Codes the failed-recipients event counts: every final failure, and devices found retired. */
const isFailedCode = (code: number) => code === STATUS.notRegistered || (code > 0 && code !== STATUS.accepted);

async function enqueueWatch(task: WatchTask, sendAt: Timestamp | null | undefined): Promise<void> {
  const untilSend = sendAt ? Math.max(0, (sendAt.toMillis() - Date.now()) / 1000) : 0;
  // Cloud Tasks schedules at most 30 days ahead; a message scheduled later is looked at again then.
  const delay = Math.min(29 * 86_400, Math.ceil(untilSend) + Math.max(1, WEBHOOK_WATCH_SECONDS.value()));
  try {
    await getFunctions(adminApp()).taskQueue(WATCH_WEBHOOK_MESSAGE_FUNCTION).enqueue(task, { id: `watch-${task.messageId}-${task.round}`, scheduleDelaySeconds: delay });
  } catch (err) {
    if ((err as { code?: string }).code !== "functions/task-already-exists") throw err;
  }
}

/** Called once per new message (functions/onMessageCreated.ts): starts its watch if the key that sent it has message webhooks. */
export async function watchIfSubscribed(messageId: string, message: { senderId?: unknown; sendAt?: unknown; via?: unknown } | undefined): Promise<void> {
  // Only partner API keys hold webhooks: a Moodle site's pushes (one message per device) and staff messages cost nothing here.
  if (message?.via !== "api") return;
  const keyId = senderKeyId(typeof message.senderId === "string" ? message.senderId : undefined);
  if (!keyId) return;
  if ((await endpointsOfKey(keyId, MESSAGE_EVENTS, true)).length === 0) return;
  const sendAt = message.sendAt as Timestamp | null | undefined;
  await enqueueWatch({ messageId, round: 0 }, typeof sendAt?.toMillis === "function" ? sendAt : null);
}

/** A finished message: every recipient final, or cancelled with nothing left in flight, or invalid. */
function finished(report: WatchedReport): boolean {
  if (report.state === "done" || report.state === "invalid") return true;
  const open = (report.counts[String(STATUS.pending)] ?? 0) + (report.counts[String(STATUS.inProcess)] ?? 0);
  return report.state === "cancelled" && open === 0;
}

/** The failed recipients, up to FAILED_RECIPIENTS_LISTED of them, in a stable order. */
async function failedRecipients(messageId: string, tenant: string | undefined): Promise<z.infer<typeof failedRecipientsData>["recipients"]> {
  const recipients = recipientsCollection(messageId);
  const [failed, retired] = await Promise.all([
    recipients.where("status", ">", STATUS.accepted).orderBy("status").limit(FAILED_RECIPIENTS_LISTED).get(),
    recipients.where("status", "==", STATUS.notRegistered).limit(FAILED_RECIPIENTS_LISTED).get(),
  ]);
  return [...retired.docs, ...failed.docs].slice(0, FAILED_RECIPIENTS_LISTED).map((doc) => {
    const r = doc.data();
    return { deviceId: r.deviceId, userId: r.userId ? localUserId(tenant, r.userId) : null, status: r.status, statusMessage: r.statusMessage ?? null };
  });
}

/**
 * One look at a watched message: announced if finished, else looked at again
 * later. Safe to run twice: the next look and the events have fixed task ids.
 */
export async function watchMessage(task: WatchTask, reportOf: ReportOf): Promise<void> {
  const snapshot = await messageStates().doc(task.messageId).get();
  const message = snapshot.data();
  const keyId = senderKeyId(message?.senderId);
  if (!message || !keyId || !message.senderId) return;
  const endpoints = await endpointsOfKey(keyId, MESSAGE_EVENTS, true);
  if (endpoints.length === 0) return;
  const report = await reportOf(task.messageId, message.senderId);
  if (!finished(report)) {
    const since = Math.max(message.createdAt?.toMillis() ?? 0, message.sendAt?.toMillis() ?? 0);
    if (since > 0 && Date.now() - since > WATCH_GIVE_UP_MS) {
      logger.warn("webhooks: message still not finished, watch given up", { messageId: task.messageId, state: report.state, rounds: task.round + 1 });
      return;
    }
    await enqueueWatch({ messageId: task.messageId, round: task.round + 1 }, message.sendAt);
    return;
  }
  const done = endpoints.filter((e) => e.doc.events.includes("message.done"));
  if (done.length > 0) await enqueueEvent(done, "message.done", [task.messageId], report);
  const failedTo = endpoints.filter((e) => e.doc.events.includes("message.failed-recipients"));
  // `other` holds final codes the report does not list one by one: failures all (401 among them).
  const other = typeof report.other === "number" ? report.other : 0;
  const failedCount = Object.entries(report.counts).reduce((sum, [code, n]) => sum + (isFailedCode(Number(code)) ? n : 0), other);
  if (failedTo.length > 0 && failedCount > 0) {
    const tenant = failedTo[0]?.doc.tenant;
    const listed = await failedRecipients(task.messageId, tenant);
    const data: z.infer<typeof failedRecipientsData> = { messageId: task.messageId, failed: failedCount, recipients: listed, truncated: failedCount > listed.length };
    await enqueueEvent(failedTo, "message.failed-recipients", [task.messageId], data);
  }
  logger.info("webhooks: message finished and announced", { messageId: task.messageId, state: report.state, rounds: task.round + 1, endpoints: endpoints.length });
}
