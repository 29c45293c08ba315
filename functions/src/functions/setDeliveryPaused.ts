import { validatedOnCall } from "../shared/callable";
import { requireAdmin } from "../ops/admin";
import { setDeliveryPausedInput } from "../ops/schema";
import { setDeliveryPaused as setPaused } from "../ops/stop";
import { STAFF_CALLABLE } from "../shared/sizing";

/** Administrators (`pushAdmin` claim): the emergency stop of all delivery, and its release. */
export const setDeliveryPaused = validatedOnCall(setDeliveryPausedInput, (data, caller) => {
  requireAdmin(caller);
  return setPaused(data.paused, data.reason ?? null, caller.uid);
}, STAFF_CALLABLE);
