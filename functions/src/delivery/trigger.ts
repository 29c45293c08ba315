import { STATUS } from "../shared/contract";
import { SHARDS, WINDOW_SECONDS } from "../shared/params";
import { enqueueDispatch, windowOf } from "./queue";
import { shardOf } from "./shards";

/** Tasks this instance already knows exist, so a burst of recipients costs one enqueue call per window, not one each. */
const known = new Map<string, number>();

/**
 * A new recipient: make sure a dispatch task for its message and shard runs
 * after it. All triggers of one window share one task id, scheduled for the
 * end of the window, so a task that exists has not run yet and will see this
 * recipient; the next window gets a new task.
 */
export async function onNewRecipient(messageId: string, recipientId: string, status: unknown): Promise<void> {
  if (status !== STATUS.pending) return;
  const shard = shardOf(recipientId, SHARDS.value());
  const now = Date.now();
  const { window, delaySeconds } = windowOf(now, WINDOW_SECONDS.value());
  const key = `${messageId}/${shard}/${window}`;
  if (known.has(key)) return;
  await enqueueDispatch({ messageId, shard }, ["w", window], delaySeconds);
  known.set(key, now + delaySeconds * 1000);
  for (const [entry, expires] of known) if (expires < now) known.delete(entry);
}
