import { validatedOnCall } from "../shared/callable";
import { audienceLanguageSample, countAudience } from "../sending/audience";
import { estimateAudienceInput, type EstimateAudienceResult } from "../sending/schema";
import { requireStaff } from "../sending/staff";
import { STAFF_CALLABLE } from "../shared/sizing";

/** Staff: how many devices a message to this audience would reach, counted with aggregations, and (asked for) the languages of a bounded sample of them. */
export const estimateAudience = validatedOnCall(estimateAudienceInput, async (data, caller): Promise<EstimateAudienceResult> => {
  requireStaff(caller);
  const [devices, languages] = await Promise.all([countAudience(data.audience, data.urgency === "emergency" ? undefined : data.category), data.languages ? audienceLanguageSample(data.audience) : undefined]);
  return { devices, ...(languages && { languages }) };
}, STAFF_CALLABLE);
