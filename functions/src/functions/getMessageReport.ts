import { validatedOnCall } from "../shared/callable";
import { messageReport } from "../sending/report";
import { messageRefInput } from "../sending/schema";
import { requireStaff } from "../sending/staff";

export const getMessageReport = validatedOnCall(messageRefInput, (data, caller) => messageReport(requireStaff(caller), data.messageId));
