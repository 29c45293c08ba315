import { logger } from "firebase-functions";
import { onDocumentWritten } from "firebase-functions/v2/firestore";
import { switchOf } from "../ops/pause";
import { redispatchAfterResume } from "../sweep/resume";
import { COLLECTIONS } from "../shared/contract";
import { SINGLETON } from "../shared/sizing";

/** Every change of the emergency stop is logged; when it is released, whatever waited is dispatched again. */
export const resumeDelivery = onDocumentWritten({ document: `${COLLECTIONS.ops}/delivery`, ...SINGLETON, memory: "512MiB", timeoutSeconds: 540 }, async (event) => {
  // Read as the dispatch reads it: a malformed document counts as paused.
  const before = switchOf(event.data?.before.data());
  const after = switchOf(event.data?.after.data());
  // One log line per change, whoever made it (the ops command or the callable): what a log-based alert counts.
  if (!before.paused && after.paused) logger.warn("ops: delivery paused", { by: after.by, reason: after.reason });
  if (before.paused && !after.paused) {
    logger.info("ops: delivery resumed", { by: after.by });
    await redispatchAfterResume();
  }
});
