import { HttpsError } from "firebase-functions/v2/https";
import { validatedOnCall } from "../shared/callable";
import { setDeliveryPaused as setPaused, setDeliveryPausedInput } from "../ops/stop";

/** Administrators (`pushAdmin` claim): the emergency stop of all delivery, and its release. */
export const setDeliveryPaused = validatedOnCall(setDeliveryPausedInput, (data, caller) => {
  if (caller.claims.pushAdmin !== true) throw new HttpsError("permission-denied", "Only administrators (pushAdmin) may pause or resume delivery.");
  return setPaused(data.paused, data.reason ?? null, caller.uid);
});
