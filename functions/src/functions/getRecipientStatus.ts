import { validatedOnCall } from "../shared/callable";
import { lookupRecipient } from "../sending/lookup";
import { recipientLookupInput } from "../sending/schema";
import { requireStaff } from "../sending/staff";
import { STAFF_CALLABLE } from "../shared/sizing";

/** Staff: what happened to one device for one message (its own document, or its broadcast page). */
export const getRecipientStatus = validatedOnCall(recipientLookupInput, (data, caller) => lookupRecipient(requireStaff(caller), data.messageId, data.deviceId), STAFF_CALLABLE);
