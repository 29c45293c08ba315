import { validatedOnCall } from "../shared/callable";
import { getDeliveryStatusInput } from "../ops/schema";
import { requireAdmin } from "../ops/admin";
import { deliveryStatus } from "../ops/stop";
import { STAFF_CALLABLE } from "../shared/sizing";

/** Administrators: the emergency stop's state and each delivery queue's. */
export const getDeliveryStatus = validatedOnCall(getDeliveryStatusInput, (_data, caller) => {
  requireAdmin(caller);
  return deliveryStatus();
}, STAFF_CALLABLE);
