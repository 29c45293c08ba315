import { logger } from "firebase-functions";
import { onTaskDispatched } from "firebase-functions/v2/tasks";
import { dispatchBatch as dispatch } from "../delivery/dispatch";
import { DISPATCH_EARLY_WAIT_MS, waitForEta } from "../delivery/eta";
import { dispatchTask } from "../delivery/tasks";
import { TASK_MAX_CONCURRENT, TASK_MAX_PER_SECOND } from "../shared/params";
import { DISPATCH_TASK } from "../shared/sizing";


/** One Cloud Task = one FCM batch. A thrown error makes Cloud Tasks retry; claimed work is protected by leases. */
export const dispatchBatch = onTaskDispatched(
  {
    retryConfig: { maxAttempts: 10, minBackoffSeconds: 5, maxBackoffSeconds: 300 },
    rateLimits: { maxConcurrentDispatches: TASK_MAX_CONCURRENT, maxDispatchesPerSecond: TASK_MAX_PER_SECOND },
    ...DISPATCH_TASK,
    timeoutSeconds: 120,
  },
  async (request) => {
    const task = dispatchTask.safeParse(request.data);
    if (!task.success) {
      // A malformed task will never succeed: record it and let it go instead of retrying forever.
      logger.error("dispatch: malformed task dropped", { issues: task.error.issues.length });
      return;
    }
    await waitForEta(request.scheduledTime, DISPATCH_EARLY_WAIT_MS);
    await dispatch(task.data, request.id);
  },
);
