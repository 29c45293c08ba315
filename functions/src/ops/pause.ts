import { Timestamp, type DocumentData } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { z } from "zod";
import { describeZodError } from "../shared/callable";
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

/**
 * The switch as stored. A missing document means "not paused": a stop is set
 * on purpose. A document that does not match (written by hand in the Firebase
 * console, `paused: "yes"`) counts as paused, with the reason saying what is
 * wrong: an emergency stop must never fail open. Setting the switch through
 * the callable or `npm run ops` rewrites it whole.
 */
export function switchOf(data: DocumentData | undefined): DeliverySwitch {
  return readAs(data).state;
}

function readAs(data: DocumentData | undefined): { state: DeliverySwitch; malformed: boolean } {
  if (data === undefined) return { state: deliverySwitch.parse({}), malformed: false };
  const parsed = deliverySwitch.safeParse(data);
  if (parsed.success) return { state: parsed.data, malformed: false };
  const { field, message } = describeZodError(parsed.error);
  const reason = `the ${COLLECTIONS.ops}/delivery document is malformed (${field}): ${message}; delivery stays paused until it is set again`;
  return { state: { paused: true, reason, by: null, at: null }, malformed: true };
}

export async function readSwitch(): Promise<DeliverySwitch> {
  const { state, malformed } = readAs((await switchRef().get()).data());
  if (malformed) logger.error("ops: delivery switch is malformed; treated as paused", { reason: state.reason });
  return state;
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
