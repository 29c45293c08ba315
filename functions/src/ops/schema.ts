import { z } from "zod";
import { STATUS } from "../shared/contract";

/**
 * The operations callables' requests and answers, for the functions, the ops
 * command and the console alike (no server SDK here).
 */
export const setDeliveryPausedInput = z.strictObject({
  paused: z.boolean({ error: "must be true or false" }),
  reason: z.string({ error: "must be a string" }).trim().min(1, "must not be empty").max(500, "must be at most 500 characters").optional(),
});
export type SetDeliveryPausedRequest = z.input<typeof setDeliveryPausedInput>;

export const getDeliveryStatusInput = z.strictObject({});

/** At most 31 days of hours. */
export const MAX_STATS_HOURS = 24 * 31;
export const getDeliveryStatsInput = z.strictObject({
  hours: z.number({ error: "must be a number" }).int("must be a whole number").min(1, "must be at least 1").max(MAX_STATS_HOURS, `must be at most ${MAX_STATS_HOURS}`).default(24),
});
export type GetDeliveryStatsRequest = z.input<typeof getDeliveryStatsInput>;

export interface QueueStatus {
  name: string;
  /** RUNNING, PAUSED or DISABLED as Cloud Tasks reports it; null when it could not be read. */
  state: string | null;
  /** Cloud Tasks' estimate of the tasks in the queue (waiting, in flight, retrying). */
  tasks: number | null;
  oldestEstimatedArrival: string | null;
  executedLastMinute: number | null;
  concurrentDispatches: number | null;
  error?: string;
}

/** What setDeliveryPaused, getDeliveryStatus and `npm run ops -- status --json` answer. */
export interface DeliveryStatus {
  paused: boolean;
  reason: string | null;
  by: string | null;
  at: string | null;
  queues: QueueStatus[];
}

/** One hour of delivery outcomes (UTC), as getDeliveryStats and `npm run ops -- stats --json` answer. */
export interface HourRow {
  hour: string;
  /** Final statuses by code. */
  counts: Record<string, number>;
  batches: number;
  retries: number;
  tokensRetired: number;
  sweep: Record<string, number>;
  /** Receipts the apps reported (ackMessage), counted once each by their message's tally: notifications that arrived, and that were tapped. */
  received: number;
  opened: number;
}

/** The columns an operator reads: accepted, failed (every other positive final code), unregistered, skipped, cancelled. */
export function summarizeHour(row: HourRow) {
  let failed = 0;
  for (const [code, n] of Object.entries(row.counts)) {
    const status = Number(code);
    if (status > 0 && status !== STATUS.accepted) failed += n;
  }
  return {
    hour: row.hour,
    accepted: row.counts[String(STATUS.accepted)] ?? 0,
    failed,
    unregistered: row.counts[String(STATUS.notRegistered)] ?? 0,
    skipped: row.counts[String(STATUS.skippedDisabled)] ?? 0,
    cancelled: row.counts[String(STATUS.cancelled)] ?? 0,
    retries: row.retries,
    tokensRetired: row.tokensRetired,
    rescued: (row.sweep.leasesRequeued ?? 0) + (row.sweep.pendingRedispatched ?? 0),
  };
}
export type HourSummary = ReturnType<typeof summarizeHour>;
