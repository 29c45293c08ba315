import { HttpsError } from "firebase-functions/v2/https";
import type { Caller } from "../shared/callable";

/**
 * Operations callables, and setting the attributes the school owns, need the
 * `pushAdmin` custom claim, set by an administrator. `what` ends the refusal:
 * "Only administrators (pushAdmin) may <what>."
 */
export function requireAdmin(caller: Caller, what = "see or change the delivery controls"): void {
  if (caller.claims.pushAdmin !== true) throw new HttpsError("permission-denied", `Only administrators (pushAdmin) may ${what}.`);
}
