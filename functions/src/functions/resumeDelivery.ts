import { logger } from "firebase-functions";
import { onDocumentWritten } from "firebase-functions/v2/firestore";
import { deliverySwitch } from "../ops/pause";
import { redispatchAfterResume } from "../sweep/resume";
import { COLLECTIONS } from "../shared/contract";

/** Every change of the emergency stop is logged; when it is released, whatever waited is dispatched again. */
export const resumeDelivery = onDocumentWritten({ document: `${COLLECTIONS.ops}/delivery`, timeoutSeconds: 540 }, async (event) => {
  const before = deliverySwitch.safeParse(event.data?.before.data() ?? {});
  const after = deliverySwitch.safeParse(event.data?.after.data() ?? {});
  const wasPaused = before.success && before.data.paused;
  const isPaused = after.success && after.data.paused;
  // One log line per change, whoever made it (the ops command or the callable): what a log-based alert counts.
  if (!wasPaused && isPaused) logger.warn("ops: delivery paused", { by: after.data?.by, reason: after.data?.reason });
  if (wasPaused && !isPaused) {
    logger.info("ops: delivery resumed", { by: after.data?.by });
    await redispatchAfterResume();
  }
});
