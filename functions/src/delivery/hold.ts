import { Timestamp, type DocumentData } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { shardRange } from "./shards";
import { enqueueAtSendAt, type DispatchTask } from "./tasks";
import { cancelPending } from "./cancel";

/**
 * Asked by each dispatch task before it claims anything: should this message
 * be held back? Read raw from the message document, since a directly written
 * message may carry odd values (anything but a timestamp counts as absent).
 *
 * - Cancelled: claim nothing; cancel what is still pending in the task's
 *   shard (a recipient that came back to -1 after a transient error, or was
 *   written after the cancel), so every recipient still reaches a final code.
 * - `sendAt` in the future: claim nothing and schedule the shard for then,
 *   under one task id per (message, shard, sendAt), so the shard's other
 *   tasks, and the held task itself should it run early, add nothing. Cloud
 *   Tasks never runs it early (and dispatchBatch waits out a few seconds of
 *   clock skew). The Cloud Tasks emulator does run it at once: locally, a
 *   message scheduled further ahead than that wait is released by the
 *   sweep's pending pass once sendAt has passed.
 */
export async function holdDispatch(task: DispatchTask, message: DocumentData | undefined, shards: number): Promise<boolean> {
  if (!message) return false;
  if (message.cancelledAt instanceof Timestamp) {
    const cancelled = await cancelPending(task.messageId, shardRange(task.shard, shards));
    if (cancelled > 0) logger.info("dispatch: message cancelled; pending recipients cancelled", { messageId: task.messageId, shard: task.shard, cancelled });
    return true;
  }
  if (message.sendAt instanceof Timestamp && message.sendAt.toMillis() > Date.now()) {
    await enqueueAtSendAt(task, message.sendAt);
    logger.debug("dispatch: message scheduled; shard held until sendAt", { messageId: task.messageId, shard: task.shard, sendAt: message.sendAt.toDate().toISOString() });
    return true;
  }
  return false;
}
