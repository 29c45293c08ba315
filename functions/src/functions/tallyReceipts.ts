import { logger } from "firebase-functions";
import { onTaskDispatched } from "firebase-functions/v2/tasks";
import { tallyReceipts as tally, tallyTask } from "../receipts/tally";
import { TALLY_TASK } from "../shared/sizing";

/**
 * A message's receipts counted into its summary and the hour's metrics, at
 * most once per message and RECEIPT_TALLY_SECONDS. A thrown error makes Cloud
 * Tasks retry; a tally recounts from the receipts, so that is safe, and a
 * tally lost altogether is made good by the message's next one.
 */
export const tallyReceipts = onTaskDispatched(
  {
    retryConfig: { maxAttempts: 5, minBackoffSeconds: 5, maxBackoffSeconds: 60 },
    // One task per message being acked per window: the rate follows the messages, not the acks.
    rateLimits: { maxConcurrentDispatches: 20, maxDispatchesPerSecond: 20 },
    ...TALLY_TASK,
  },
  async (request) => {
    const task = tallyTask.safeParse(request.data);
    if (!task.success) {
      logger.error("receipts: malformed tally task dropped", { issues: task.error.issues.length });
      return;
    }
    await tally(task.data);
  },
);
