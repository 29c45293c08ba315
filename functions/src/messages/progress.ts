import { z } from "zod";
import { isFailureStatus, STATUS, type MessageState } from "../shared/contract";

/*
 * A message's progress as people read it: its state, and its recipients in
 * the groups the console shows. Pure (no server SDK), so that the console and
 * app developers compute exactly what the functions do.
 */

/** The groups of status codes a person reads; `pending` is everything not final yet (-1 and -2). */
export const STATUS_GROUPS = ["accepted", "failed", "skipped", "notRegistered", "cancelled", "pending"] as const;
export type StatusGroup = (typeof STATUS_GROUPS)[number];

export function statusGroup(status: number): StatusGroup {
  if (status === STATUS.accepted) return "accepted";
  if (status === STATUS.notRegistered) return "notRegistered";
  if (status === STATUS.skippedDisabled) return "skipped";
  if (status === STATUS.cancelled) return "cancelled";
  if (isFailureStatus(status)) return "failed";
  return "pending";
}

/**
 * `messages/{id}/counters/{slot}`: counts of final statuses, written in the
 * same commit as the outcomes they count. A handful of small documents per
 * message, so watching them costs the same however large the message is.
 */
export const counterDoc = z.object({
  counts: z.record(z.string(), z.number().int()),
  /** Accepted recipients by the language their text was in (a tag, or "default"). */
  languages: z.record(z.string(), z.number().int()).optional(),
});
export type CounterDoc = z.infer<typeof counterDoc>;

export type GroupCounts = Record<StatusGroup, number>;

/**
 * Per-group counts from the counter documents: the final codes are counted;
 * pending is what the message's recipientCount leaves (unknown while the
 * recipients are still being written, when recipientCount is null).
 */
export function groupCounts(counters: Iterable<CounterDoc>, recipientCount: number | null): GroupCounts {
  const groups: GroupCounts = { accepted: 0, failed: 0, skipped: 0, notRegistered: 0, cancelled: 0, pending: 0 };
  let final = 0;
  for (const counter of counters) {
    for (const [code, count] of Object.entries(counter.counts)) {
      const group = statusGroup(Number(code));
      if (group === "pending") continue;
      groups[group] += count;
      final += count;
    }
  }
  groups.pending = recipientCount === null ? 0 : Math.max(0, recipientCount - final);
  return groups;
}

export interface StateInput {
  cancelled: boolean;
  /** The message document failed validation (its `invalid` field): nothing is sent. */
  invalid?: boolean;
  /** When delivery may begin, in epoch milliseconds; null to send at once. */
  sendAtMillis: number | null;
  /** False while the audience is still being written into recipients. */
  recipientsWritten: boolean;
  /** Recipients not yet final (-1 and -2). */
  open: number;
}

/** The report's state: cancelled wins, then invalid, then a send time still ahead, then the audience still being expanded, then whether anything is left to send. */
export function messageState(input: StateInput, now = Date.now()): MessageState {
  if (input.cancelled) return "cancelled";
  if (input.invalid) return "invalid";
  if (input.sendAtMillis !== null && input.sendAtMillis > now) return "scheduled";
  if (!input.recipientsWritten) return "preparing";
  return input.open === 0 ? "done" : "sending";
}
