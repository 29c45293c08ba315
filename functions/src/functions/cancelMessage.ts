import { validatedOnCall } from "../shared/callable";
import { cancelMessage as cancel } from "../sending/cancel";
import { messageRefInput } from "../sending/schema";
import { requireStaff } from "../sending/staff";

export const cancelMessage = validatedOnCall(messageRefInput, (data, caller) => cancel(requireStaff(caller), data.messageId), { timeoutSeconds: 300 });
