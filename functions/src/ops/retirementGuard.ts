import { Timestamp, type DocumentData } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { devicesCollection } from "../devices/collection";
import { retireIfStillHeld } from "../devices/retire";
import type { RetiredReason } from "../shared/contract";
import { db } from "../shared/firestore";
import { RETIREMENT_GUARD_MIN_SENDS, RETIREMENT_GUARD_PERCENT } from "../shared/params";
import { runTransaction } from "../shared/transaction";
import { switchRef } from "./pause";

/*
 * A guard against mass retirement. FCM answers "this token is dead" for a
 * device at a time; when most of a large number of sends come back that way
 * at once, the likelier cause is the project (a wrong sender, credentials of
 * another project, an FCM incident), and acting on it would retire devices
 * that are fine. So the guard then holds every further retirement as suspect
 * (`ops/retirementGuard/held/{deviceId}`: the token and FCM's reason) until
 * an operator confirms (`npm run ops -- retirements --confirm`: retired, if
 * they still hold that token) or discards them (`--discard`).
 *
 * What is counted: each function instance counts its own sends and retire
 * answers over the last minute, in memory. A project-wide cause shows in
 * every instance's share alike, so no shared counter (and no document
 * written per batch) is needed; an instance that has sent fewer than
 * RETIREMENT_GUARD_MIN_SENDS in the minute never trips it. Updated
 * synchronously, the counters are safe under the function's concurrency.
 */

const WINDOW_SECONDS = 60;
/** Sends and retire answers per second of the last minute, this instance's. */
const window = new Map<number, { sends: number; retire: number }>();

/** Counts a batch's sends and retire answers and says whether the last minute looks like a mass retirement. */
export function countAndJudge(sends: number, retire: number, nowMs = Date.now(), minSends = RETIREMENT_GUARD_MIN_SENDS.value(), percent = RETIREMENT_GUARD_PERCENT.value()): { suspicious: boolean; sends: number; retire: number } {
  const second = Math.floor(nowMs / 1000);
  for (const key of window.keys()) if (key <= second - WINDOW_SECONDS) window.delete(key);
  const bucket = window.get(second) ?? { sends: 0, retire: 0 };
  bucket.sends += sends;
  bucket.retire += retire;
  window.set(second, bucket);
  let total = 0;
  let dead = 0;
  for (const entry of window.values()) {
    total += entry.sends;
    dead += entry.retire;
  }
  return { suspicious: total >= minSends && dead * 100 > total * percent, sends: total, retire: dead };
}

export function guardRef() {
  return switchRef().parent.doc("retirementGuard");
}

function heldCollection() {
  return guardRef().collection("held");
}

export interface RetirementRequest {
  deviceId: string;
  token: string;
  reason: RetiredReason;
}

export interface GuardState {
  holding: boolean;
  reason: string | null;
  since: string | null;
}

function stateOf(data: DocumentData | undefined): GuardState {
  const since: unknown = data?.since;
  return { holding: data?.holding === true, reason: typeof data?.reason === "string" ? data.reason : null, since: since instanceof Timestamp ? since.toDate().toISOString() : null };
}

export async function readGuard(): Promise<GuardState> {
  return stateOf((await guardRef().get()).data());
}

/**
 * The retirements a batch may carry out now. Trips the guard when the last
 * minute looks like a mass retirement; while it holds, every retirement is
 * stored as suspect instead (nothing returned). One document read per batch
 * that has retirements, none for the others.
 */
export async function guardRetirements(retirements: RetirementRequest[], sends: number, context: Record<string, unknown>): Promise<RetirementRequest[]> {
  const judged = countAndJudge(sends, retirements.length);
  if (retirements.length === 0) return retirements;
  let holding = (await readGuard()).holding;
  if (!holding && judged.suspicious) {
    const reason = `${judged.retire} of ${judged.sends} sends in the last minute were answered "token dead" (over ${RETIREMENT_GUARD_PERCENT.value()}%): more likely the project than the devices`;
    const tripped = await runTransaction("tripRetirementGuard", async (tx) => {
      if (stateOf((await tx.get(guardRef())).data()).holding) return false;
      tx.set(guardRef(), { holding: true, reason, since: Timestamp.now() });
      return true;
    });
    if (tripped) logger.error("fcm: mass retirement suspected; retirements held until an operator confirms (npm run ops -- retirements)", { ...context, sends: judged.sends, retire: judged.retire });
    holding = true;
  }
  if (!holding) return retirements;
  const batch = db().batch();
  const at = Timestamp.now();
  for (const r of retirements) batch.set(heldCollection().doc(r.deviceId), { token: r.token, reason: r.reason, at, ...context });
  await batch.commit();
  logger.warn("fcm: retirements held as suspect", { ...context, held: retirements.length });
  return [];
}

/** The guard's state and how many retirements it holds. */
export async function guardStatus(): Promise<GuardState & { held: number }> {
  const [state, count] = await Promise.all([readGuard(), heldCollection().count().get()]);
  return { ...state, held: count.data().count };
}

/**
 * The operator's answer. `confirm`: every held retirement is carried out,
 * but only for a device that still holds the token FCM rejected (one
 * re-registered meanwhile stays); `discard`: they are forgotten. Either way
 * the guard is released. Returns how many devices were retired and how many
 * held entries were dealt with.
 */
export async function settleHeldRetirements(action: "confirm" | "discard"): Promise<{ retired: number; settled: number }> {
  let retired = 0;
  let settled = 0;
  for (;;) {
    const page = await heldCollection().limit(200).get();
    if (page.empty) break;
    if (action === "confirm") {
      retired += await runTransaction("confirmRetirements", async (tx) => {
        const devices = await tx.getAll(...page.docs.map((d) => devicesCollection().doc(d.id)));
        const now = Timestamp.now();
        let count = 0;
        devices.forEach((snapshot, i) => {
          const held = page.docs[i]?.data();
          if (held && typeof held.token === "string" && retireIfStillHeld(tx, snapshot, held.token, held.reason as RetiredReason, now)) count += 1;
        });
        for (const doc of page.docs) tx.delete(doc.ref);
        return count;
      });
    } else {
      const batch = db().batch();
      for (const doc of page.docs) batch.delete(doc.ref);
      await batch.commit();
    }
    settled += page.size;
  }
  await guardRef().set({ holding: false, reason: null, since: null, settledAt: Timestamp.now(), settled: action });
  logger.info("fcm: held retirements settled", { action, retired, settled });
  return { retired, settled };
}
