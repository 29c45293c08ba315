import { logger } from "firebase-functions";
import { onTaskDispatched } from "firebase-functions/v2/tasks";
import { waitForEta } from "../delivery/eta";
import { messageReport } from "../sending/report";
import { WEBHOOK_WATCH_TASK } from "../shared/sizing";
import { watchMessage } from "../webhooks/watch";
import { watchTask } from "../webhooks/schema";

/** The longest wait for a task that arrived before its time (only the emulator delivers early). */
const MAX_EARLY_WAIT_MS = 60_000;

/**
 * One look at a message whose key has message webhooks (webhooks/watch.ts):
 * its report, as `GET /v1/messages/{id}` answers the key that sent it.
 */
export const watchWebhookMessage = onTaskDispatched(
  {
    retryConfig: { maxAttempts: 10, minBackoffSeconds: 5, maxBackoffSeconds: 300 },
    rateLimits: { maxConcurrentDispatches: 20, maxDispatchesPerSecond: 20 },
    ...WEBHOOK_WATCH_TASK,
  },
  async (request) => {
    const task = watchTask.safeParse(request.data);
    if (!task.success) {
      logger.error("webhooks: malformed watch task dropped", { issues: task.error.issues.length });
      return;
    }
    await waitForEta(request.scheduledTime, MAX_EARLY_WAIT_MS);
    await watchMessage(task.data, (messageId, senderId) => messageReport({ senderId, via: "api" }, messageId));
  },
);
