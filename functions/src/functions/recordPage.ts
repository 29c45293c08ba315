import { logger } from "firebase-functions";
import { onTaskDispatched } from "firebase-functions/v2/tasks";
import { yieldCpuLocally } from "../shared/localCpu";
import { recordPageOutcomes } from "../delivery/pages";
import { recordPageTask } from "../delivery/tasks";
import { EXPANSION_MAX_CONCURRENT, EXPANSION_MAX_PER_SECOND } from "../shared/params";
import { RECORD_TASK } from "../shared/sizing";

/** A sent page's recipient documents, written with their outcomes behind the send. A thrown error makes Cloud Tasks retry; creates make that safe. */
export const recordPage = onTaskDispatched(
  {
    retryConfig: { maxAttempts: 10, minBackoffSeconds: 5, maxBackoffSeconds: 300 },
    rateLimits: { maxConcurrentDispatches: EXPANSION_MAX_CONCURRENT, maxDispatchesPerSecond: EXPANSION_MAX_PER_SECOND },
    ...RECORD_TASK,
    timeoutSeconds: 300,
  },
  async (request) => {
    yieldCpuLocally();
    const task = recordPageTask.safeParse(request.data);
    if (!task.success) {
      logger.error("pages: malformed record task dropped", { issues: task.error.issues.length });
      return;
    }
    await recordPageOutcomes(task.data);
  },
);
