import { readSwitch, writeSwitch, type DeliverySwitch } from "./pause";
import { administerQueues } from "./queues";
import type { DeliveryStatus, QueueStatus } from "./schema";

export type { DeliveryStatus } from "./schema";

function status(state: DeliverySwitch, queues: QueueStatus[]): DeliveryStatus {
  return { paused: state.paused, reason: state.reason, by: state.by, at: state.at ? state.at.toDate().toISOString() : null, queues };
}

/**
 * The emergency stop, for the ops command and the `setDeliveryPaused`
 * callable alike. The Firestore switch comes first: it alone holds every
 * dispatch task (each reads it before claiming), within a batch's time. The
 * Cloud Tasks queues are paused after it, so that in production no dispatch
 * runs at all while stopped; resuming does it the other way round. Resuming
 * re-dispatches what waited (the switch's trigger, `resumeDelivery`), which
 * also logs the change.
 */
export async function setDeliveryPaused(paused: boolean, reason: string | null, by: string): Promise<DeliveryStatus> {
  if (!paused) {
    const queues = await administerQueues("resume");
    return status(await writeSwitch(false, null, by), queues);
  }
  const state = await writeSwitch(true, reason, by);
  return status(state, await administerQueues("pause"));
}

export async function deliveryStatus(): Promise<DeliveryStatus> {
  const [state, queues] = await Promise.all([readSwitch(), administerQueues("status")]);
  return status(state, queues);
}
