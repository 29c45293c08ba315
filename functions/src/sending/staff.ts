import { HttpsError } from "firebase-functions/v2/https";
import type { Caller } from "../shared/callable";
import { staffSender, type Sender } from "./sender";

/** Staff callables need the `pushSender` custom claim, set by an administrator. */
export function requireStaff(caller: Caller): Sender {
  if (caller.claims.pushSender !== true) throw new HttpsError("permission-denied", "Only accounts allowed to send notifications may do this.");
  return staffSender(caller.uid, caller.claims.pushEmergency === true);
}
