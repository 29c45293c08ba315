import { HttpsError } from "firebase-functions/v2/https";
import type { Caller } from "../shared/callable";

/** Operations callables need the `pushAdmin` custom claim, set by an administrator. */
export function requireAdmin(caller: Caller): void {
  if (caller.claims.pushAdmin !== true) throw new HttpsError("permission-denied", "Only administrators (pushAdmin) may see or change the delivery controls.");
}
