import { validatedOnCall } from "../shared/callable";
import { countAudience } from "../sending/audience";
import { estimateAudienceInput, type EstimateAudienceResult } from "../sending/schema";
import { requireStaff } from "../sending/staff";
import { STAFF_CALLABLE } from "../shared/sizing";

/** Staff: how many devices a message to this audience would reach, counted with aggregations. */
export const estimateAudience = validatedOnCall(estimateAudienceInput, async (data, caller): Promise<EstimateAudienceResult> => {
  requireStaff(caller);
  return { devices: await countAudience(data.audience, data.category) };
}, STAFF_CALLABLE);
