import { validatedOnCall } from "../shared/callable";
import { sendMessageInput } from "../sending/schema";
import { sendMessage as send } from "../sending/send";
import { requireStaff } from "../sending/staff";

/** Staff: create a message for an audience; the service writes its recipients. */
export const sendMessage = validatedOnCall(sendMessageInput, (data, caller) => send(requireStaff(caller), data), { timeoutSeconds: 540, memory: "512MiB" });
