import { setUserAttributes as set } from "../devices/attributes";
import { storedOwner } from "../devices/owner";
import { setUserAttributesInput, type SetUserAttributesResult } from "../devices/schema";
import { requireAdmin } from "../ops/admin";
import { validatedOnCall } from "../shared/callable";
import { STAFF_CALLABLE } from "../shared/sizing";

/**
 * Administrators (`pushAdmin`): the attributes only the school sets for a user
 * (role, grade, class…), which `where` audiences match. Not `pushSender`: they
 * decide who receives every message sent to an attribute, other senders'
 * included, and a sender could otherwise add their own account to "role:
 * teacher". Users are named as staff audiences name them (devices/owner.ts).
 */
export const setUserAttributes = validatedOnCall(setUserAttributesInput, async (data, caller): Promise<SetUserAttributesResult> => {
  requireAdmin(caller, "set the attributes the school owns");
  const { attributes, devices } = await set(storedOwner(data.userId), data.attributes, caller.uid);
  return { userId: data.userId, attributes, devices };
}, STAFF_CALLABLE);
