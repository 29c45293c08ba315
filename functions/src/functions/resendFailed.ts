import { validatedOnCall } from "../shared/callable";
import { resendFailed as resend } from "../sending/resend";
import { resendFailedInput } from "../sending/schema";
import { requireStaff } from "../sending/staff";
import { STAFF_CALLABLE } from "../shared/sizing";

/** Staff: send a finished message again to exactly its recipients that failed. */
export const resendFailed = validatedOnCall(resendFailedInput, (data, caller) => resend(requireStaff(caller), data.messageId, data.idempotencyKey), STAFF_CALLABLE);
