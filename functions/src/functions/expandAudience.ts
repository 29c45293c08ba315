import { logger } from "firebase-functions";
import { onTaskDispatched } from "firebase-functions/v2/tasks";
import { yieldCpuLocally } from "../shared/localCpu";
import { EXPANSION_TIMEOUT_SECONDS, expandPart, expansionTask } from "../sending/expansion";
import { continueResend, resendTask } from "../sending/resend";
import { EXPANSION_MAX_CONCURRENT, EXPANSION_MAX_PER_SECOND } from "../shared/params";
import { EXPANSION_TASK } from "../shared/sizing";

/**
 * One part of an audience written into recipients, or one run of a resend's
 * writer (sending/resend.ts), which shares the queue. A thrown error makes
 * Cloud Tasks retry; cursors and per-device ids make that safe.
 */
export const expandAudience = onTaskDispatched(
  {
    retryConfig: { maxAttempts: 10, minBackoffSeconds: 5, maxBackoffSeconds: 300 },
    rateLimits: { maxConcurrentDispatches: EXPANSION_MAX_CONCURRENT, maxDispatchesPerSecond: EXPANSION_MAX_PER_SECOND },
    ...EXPANSION_TASK,
    timeoutSeconds: EXPANSION_TIMEOUT_SECONDS,
  },
  async (request) => {
    yieldCpuLocally();
    const resend = resendTask.safeParse(request.data);
    if (resend.success) {
      await continueResend(resend.data);
      return;
    }
    const task = expansionTask.safeParse(request.data);
    if (!task.success) {
      logger.error("expansion: malformed task dropped", { issues: task.error.issues.length });
      return;
    }
    await expandPart(task.data);
  },
);
