import type { DocumentSnapshot, Timestamp, Transaction } from "firebase-admin/firestore";
import type { RetiredReason } from "../shared/contract";
import type { DeviceDoc } from "./schema";

/** Retirements that mean FCM itself called the token dead (not merely old or replaced): such a token is never revived. */
export const DEAD_TOKEN_REASONS: ReadonlySet<RetiredReason> = new Set(["unregistered", "invalid", "sender-mismatch"]);

export function holdsDeadToken(device: Pick<DeviceDoc, "retired" | "retiredReason">): boolean {
  return device.retired && device.retiredReason != null && DEAD_TOKEN_REASONS.has(device.retiredReason);
}

/**
 * Token hygiene's one rule, inside the caller's transaction: a device is
 * retired only if it is live and still holds the token FCM rejected (one
 * re-registered meanwhile stays). Used when a send's answer retires it and
 * when an operator confirms retirements the guard held. Returns whether it was.
 */
export function retireIfStillHeld(tx: Transaction, snapshot: DocumentSnapshot<DeviceDoc>, token: string, reason: RetiredReason, now: Timestamp): boolean {
  const device = snapshot.data();
  if (!device || device.retired || device.token !== token) return false;
  tx.update(snapshot.ref, { retired: true, retiredAt: now, retiredReason: reason });
  return true;
}
