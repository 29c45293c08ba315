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
 * - `sendAt` in the future: claim nothing and schedule the shard for then.
 *   The new task's id includes this task's, so a duplicate of this task adds
 *   nothing, while a task that ran a moment early can schedule the next.
 */
export async function holdDispatch(task: DispatchTask, taskId: string, message: DocumentData | undefined, shards: number): Promise<boolean> {
  if (!message) return false;
  if (message.cancelledAt instanceof Timestamp) {
    const cancelled = await cancelPending(task.messageId, shardRange(task.shard, shards));
    if (cancelled > 0) logger.info("dispatch: message cancelled; pending recipients cancelled", { messageId: task.messageId, shard: task.shard, cancelled });
    return true;
  }
  if (message.sendAt instanceof Timestamp && message.sendAt.toMillis() > Date.now()) {
    await enqueueAtSendAt(task, taskId, message.sendAt);
    logger.debug("dispatch: message scheduled; shard held until sendAt", { messageId: task.messageId, shard: task.shard, sendAt: message.sendAt.toDate().toISOString() });
    return true;
  }
  return false;
}
