import type { Timestamp } from "firebase-admin/firestore";

/** What every part of one sweep run shares: the run's clock, its page size and its deadline. */
export interface SweepContext {
  /** When the run started; every age is measured from here. */
  now: Timestamp;
  /** Documents per query page, and so per transaction (Firestore allows 500 writes in one). */
  pageSize: number;
  /** No new page is started after this time (ms since epoch); what is left waits for the next run. */
  deadlineMs: number;
}

export function outOfTime(ctx: SweepContext): boolean {
  return Date.now() >= ctx.deadlineMs;
}

export function daysBefore(now: Timestamp, days: number): number {
  return now.toMillis() - days * 24 * 3600 * 1000;
}
