import { validatedOnCall } from "../shared/callable";
import { sendMessageInput } from "../sending/schema";
import { sendMessage as send } from "../sending/send";
import { requireStaff } from "../sending/staff";
import { STAFF_CALLABLE } from "../shared/sizing";

/** Staff: create a message for an audience and return; its recipients are written in the background. */
export const sendMessage = validatedOnCall(sendMessageInput, (data, caller) => send(requireStaff(caller), data), STAFF_CALLABLE);
