import { logger } from "firebase-functions";
import { onTaskDispatched } from "firebase-functions/v2/tasks";
import { WEBHOOK_RETRY_MIN_BACKOFF_SECONDS } from "../shared/params";
import { WEBHOOK_DELIVERY_TASK } from "../shared/sizing";
import { deliverWebhook as deliver } from "../webhooks/deliver";
import { deliveryTask } from "../webhooks/schema";

/**
 * One signed event POSTed to one partner endpoint. Anything short of a 2xx
 * throws, and Cloud Tasks tries again: the wait doubles from
 * WEBHOOK_RETRY_MIN_BACKOFF_SECONDS up to an hour, for at least 26 hours
 * (both maxAttempts and maxRetrySeconds must be spent before a task is
 * dropped). The queue's rate bounds what a backlog of retries can cost.
 */
export const deliverWebhook = onTaskDispatched(
  {
    retryConfig: { maxAttempts: 30, maxRetrySeconds: 26 * 3600, minBackoffSeconds: WEBHOOK_RETRY_MIN_BACKOFF_SECONDS, maxBackoffSeconds: 3600, maxDoublings: 7 },
    rateLimits: { maxConcurrentDispatches: 100, maxDispatchesPerSecond: 50 },
    ...WEBHOOK_DELIVERY_TASK,
  },
  async (request) => {
    const task = deliveryTask.safeParse(request.data);
    if (!task.success) {
      logger.error("webhooks: malformed delivery task dropped", { issues: task.error.issues.length });
      return;
    }
    await deliver(task.data);
  },
);
