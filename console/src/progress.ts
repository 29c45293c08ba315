import { groupCounts, messageState, type CounterDoc, type GroupCounts, type MessageState, type StatusGroup } from "../../functions/src/contract";
import type { MessageView } from "./firebase";

/** How each group reads on the page, in the order it is shown. */
export const GROUP_LABELS: Array<[StatusGroup, string]> = [
  ["accepted", "Accepted"],
  ["failed", "Failed"],
  ["skipped", "Skipped"],
  ["notRegistered", "No longer registered"],
  ["cancelled", "Cancelled"],
  ["pending", "Pending"],
];

export interface Progress {
  state: MessageState;
  groups: GroupCounts;
  /** Recipients with a final status. */
  final: number;
  /** All recipients, once known. */
  total: number | null;
}

/** State and counts from the message document and its counters, the same rules as getMessageReport. */
export function progressOf(message: MessageView, counters: CounterDoc[], now = Date.now()): Progress {
  const groups = groupCounts(counters, message.recipientCount);
  const final = groups.accepted + groups.failed + groups.skipped + groups.notRegistered + groups.cancelled;
  const total = message.recipientCount ?? (message.recipientsWritten ? final : null);
  const state = messageState({ cancelled: message.cancelledAt !== null, invalid: message.invalid !== null, sendAtMillis: message.sendAt?.getTime() ?? null, recipientsWritten: message.recipientsWritten, open: groups.pending }, now);
  return { state, groups, final, total };
}
