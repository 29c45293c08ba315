import { Timestamp } from "firebase-admin/firestore";
import { z } from "zod";
import { COLLECTIONS } from "../shared/contract";
import { db, zTimestamp } from "../shared/firestore";

/**
 * The emergency stop: one document, `ops/delivery`. Every dispatch task reads
 * it before it claims anything (one read per batch, nothing per recipient); while
 * it says paused, a task claims and sends nothing and leaves its recipients
 * pending, untouched, with their attempts intact. Resuming re-dispatches
 * everything pending.
 */
export const deliverySwitch = z.object({
  paused: z.boolean().default(false),
  reason: z.string().nullable().default(null),
  by: z.string().nullable().default(null),
  at: zTimestamp.nullable().default(null),
});
export type DeliverySwitch = z.infer<typeof deliverySwitch>;

export function switchRef() {
  return db().collection(COLLECTIONS.ops).doc("delivery");
}

/** The switch as stored; a missing or malformed document means "not paused" (a stop must be set on purpose). */
export async function readSwitch(): Promise<DeliverySwitch> {
  const snapshot = await switchRef().get();
  const parsed = deliverySwitch.safeParse(snapshot.data() ?? {});
  return parsed.success ? parsed.data : deliverySwitch.parse({});
}

/** Sets the switch and returns its new state. */
export async function writeSwitch(paused: boolean, reason: string | null, by: string): Promise<DeliverySwitch> {
  const state: DeliverySwitch = { paused, reason: paused ? reason : null, by, at: Timestamp.now() };
  await switchRef().set(state);
  return state;
}

/** How a report shows the stop: null when delivery runs. */
export function pauseNotice(state: DeliverySwitch): { reason: string | null; since: string | null; by: string | null } | null {
  return state.paused ? { reason: state.reason, since: state.at ? state.at.toDate().toISOString() : null, by: state.by } : null;
}
