import { translateDraft as translate } from "../languages/draft";
import { translateDraftInput, type TranslateDraftResult } from "../languages/schema";
import { validatedOnCall } from "../shared/callable";
import { requireStaff } from "../sending/staff";
import { STAFF_CALLABLE } from "../shared/sizing";

/** Staff: a draft's title and body machine-translated into one language, to edit before sending (failed-precondition while MACHINE_TRANSLATION is off). */
export const translateDraft = validatedOnCall(translateDraftInput, (data, caller): Promise<TranslateDraftResult> => {
  requireStaff(caller);
  return translate(data);
}, STAFF_CALLABLE);
