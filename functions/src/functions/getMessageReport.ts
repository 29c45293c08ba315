import { validatedOnCall } from "../shared/callable";
import { messageReport } from "../sending/report";
import { messageRefInput } from "../sending/schema";
import { requireStaff } from "../sending/staff";
import { STAFF_CALLABLE } from "../shared/sizing";

export const getMessageReport = validatedOnCall(messageRefInput, (data, caller) => messageReport(requireStaff(caller), data.messageId), STAFF_CALLABLE);
