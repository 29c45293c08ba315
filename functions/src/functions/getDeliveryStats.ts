import { validatedOnCall } from "../shared/callable";
import { getDeliveryStatsInput } from "../ops/schema";
import { requireAdmin } from "../ops/admin";
import { readHours } from "../ops/metrics";
import { STAFF_CALLABLE } from "../shared/sizing";

/** Administrators: delivery outcomes per hour, oldest first (what `npm run ops -- stats` prints). */
export const getDeliveryStats = validatedOnCall(getDeliveryStatsInput, async (data, caller) => {
  requireAdmin(caller);
  return { hours: await readHours(data.hours) };
}, STAFF_CALLABLE);
