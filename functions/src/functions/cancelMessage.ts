import { validatedOnCall } from "../shared/callable";
import { cancelMessage as cancel } from "../sending/cancel";
import { messageRefInput } from "../sending/schema";
import { requireStaff } from "../sending/staff";
import { STAFF_CALLABLE } from "../shared/sizing";

export const cancelMessage = validatedOnCall(messageRefInput, (data, caller) => cancel(requireStaff(caller), data.messageId), { ...STAFF_CALLABLE, timeoutSeconds: 300 });
