import { Timestamp } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import {
  DEVICE_RETENTION_DAYS,
  MAX_ATTEMPTS,
  MESSAGE_RETENTION_DAYS,
  SHARDS,
  STALE_TOKEN_DAYS,
  SWEEP_PAGE_SIZE,
  SWEEP_PENDING_AFTER_SECONDS,
  SWEEP_TIME_BUDGET_SECONDS,
  WINDOW_SECONDS,
} from "../shared/params";
import { recordSweep } from "../ops/metrics";
import type { SweepContext } from "./context";
import { deleteRetiredDevices, retireStaleDevices } from "./devices";
import { deleteOldMessages } from "./messages";
import { removePrivateContent } from "./private";
import { redispatchPending, requeueExpiredLeases } from "./recipients";
import { Redispatcher } from "./redispatch";

/** The scheduled function's time limit. */
export const SWEEP_TIMEOUT_SECONDS = 540;
/** Time kept free at the end of a run for the page in flight and the summary. */
const SAFETY_MARGIN_SECONDS = 60;
/** Firestore's limit on writes in one transaction. */
const MAX_TRANSACTION_WRITES = 500;

export interface SweepSummary {
  /** -2 with an expired lease, moved back to -1 and re-dispatched. */
  leasesRequeued: number;
  /** -2 with an expired lease and no attempts left: final status 504. */
  leasesExhausted: number;
  malformedRecipients: number;
  /** (message, shard) pairs of old messages with pending recipients, re-dispatched. */
  pendingRedispatched: number;
  orphanedMessages: number;
  /** Dispatch tasks created (ids shared with an existing task do not count). */
  tasksEnqueued: number;
  devicesDeleted: number;
  devicesRetiredStale: number;
  messagesDeleted: number;
  recipientsDeleted: number;
  /** Private messages (a Moodle site's pushes) whose text and data were removed once delivered. */
  privateContentRemoved: number;
  /** Parts that stopped at the time budget (or failed) and continue next run. */
  unfinished: string[];
  elapsedMs: number;
}

/**
 * One sweep: rescues stuck and lost recipients first (they hold up
 * deliveries), then cleans devices and old messages. Every part works in
 * pages under one deadline and is safe to run while another sweep runs. A
 * part that fails does not stop the others; the first failure is thrown at
 * the end so the run is reported as failed. Logs one summary line.
 */
export async function runSweep(now: Timestamp = Timestamp.now()): Promise<SweepSummary> {
  const started = Date.now();
  const budgetSeconds = Math.max(1, Math.min(SWEEP_TIME_BUDGET_SECONDS.value(), SWEEP_TIMEOUT_SECONDS - SAFETY_MARGIN_SECONDS));
  const ctx: SweepContext = {
    now,
    pageSize: Math.max(1, Math.min(MAX_TRANSACTION_WRITES, SWEEP_PAGE_SIZE.value())),
    deadlineMs: started + budgetSeconds * 1000,
  };
  const redispatch = new Redispatcher(WINDOW_SECONDS.value(), SHARDS.value());
  const summary: SweepSummary = {
    leasesRequeued: 0,
    leasesExhausted: 0,
    malformedRecipients: 0,
    pendingRedispatched: 0,
    orphanedMessages: 0,
    tasksEnqueued: 0,
    devicesDeleted: 0,
    devicesRetiredStale: 0,
    messagesDeleted: 0,
    recipientsDeleted: 0,
    privateContentRemoved: 0,
    unfinished: [],
    elapsedMs: 0,
  };
  const failures: unknown[] = [];
  const part = async (name: string, work: () => Promise<boolean>) => {
    try {
      if (!(await work())) summary.unfinished.push(name);
    } catch (err) {
      failures.push(err);
      summary.unfinished.push(name);
      logger.error("sweep: part failed", { part: name, error: err instanceof Error ? err.message : String(err) });
    }
  };

  await part("leases", async () => {
    const leases = await requeueExpiredLeases(ctx, Math.max(1, MAX_ATTEMPTS.value()), redispatch);
    summary.leasesRequeued = leases.requeued;
    summary.leasesExhausted = leases.exhausted;
    summary.malformedRecipients = leases.malformed;
    return leases.done;
  });
  await part("pending", async () => {
    const pending = await redispatchPending(ctx, SWEEP_PENDING_AFTER_SECONDS.value(), redispatch);
    summary.pendingRedispatched = pending.redispatched;
    summary.orphanedMessages = pending.orphanedMessages;
    return pending.done;
  });
  await part("privateContent", async () => {
    const removed = await removePrivateContent(ctx);
    summary.privateContentRemoved = removed.removed;
    return removed.done;
  });
  await part("retiredDevices", async () => {
    const deleted = await deleteRetiredDevices(ctx, DEVICE_RETENTION_DAYS.value());
    summary.devicesDeleted = deleted.changed;
    return deleted.done;
  });
  await part("staleDevices", async () => {
    const stale = await retireStaleDevices(ctx, STALE_TOKEN_DAYS.value());
    summary.devicesRetiredStale = stale.changed;
    return stale.done;
  });
  await part("messages", async () => {
    const messages = await deleteOldMessages(ctx, MESSAGE_RETENTION_DAYS.value());
    summary.messagesDeleted = messages.messagesDeleted;
    summary.recipientsDeleted = messages.recipientsDeleted;
    return messages.done;
  });

  summary.tasksEnqueued = redispatch.tasksEnqueued;
  summary.elapsedMs = Date.now() - started;
  logger.info("sweep: done", { ...summary });
  await recordSweep({
    leasesRequeued: summary.leasesRequeued,
    leasesExhausted: summary.leasesExhausted,
    pendingRedispatched: summary.pendingRedispatched,
    devicesRetiredStale: summary.devicesRetiredStale,
    devicesDeleted: summary.devicesDeleted,
    messagesDeleted: summary.messagesDeleted,
  }).catch((err: unknown) => {
    failures.push(err);
    logger.error("sweep: could not record its metrics", { error: String(err) });
  });
  if (failures.length > 0) throw failures[0];
  return summary;
}
