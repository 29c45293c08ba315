import { onDocumentWritten } from "firebase-functions/v2/firestore";
import { redispatchAfterResume } from "../ops/stop";
import { deliverySwitch } from "../ops/pause";
import { COLLECTIONS } from "../shared/contract";

/** When the emergency stop is released, whatever waited is dispatched again. */
export const resumeDelivery = onDocumentWritten({ document: `${COLLECTIONS.ops}/delivery`, timeoutSeconds: 540 }, async (event) => {
  const before = deliverySwitch.safeParse(event.data?.before.data() ?? {});
  const after = deliverySwitch.safeParse(event.data?.after.data() ?? {});
  const wasPaused = before.success && before.data.paused;
  const isPaused = after.success && after.data.paused;
  if (wasPaused && !isPaused) await redispatchAfterResume();
});
