import { Timestamp, type DocumentData } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { z } from "zod";
import { FCM_MESSAGES_PER_MINUTE, FCM_RATE_WINDOW_SECONDS } from "../shared/params";
import { runTransaction } from "../shared/transaction";
import { switchRef } from "./pause";

/*
 * One FCM rate for the whole project. FCM counts a project's sends per
 * minute (600,000 by default); every path that sends — dispatch batches, the
 * trigger's inline batch, broadcast pages — takes what it is about to send
 * from one budget per clock window (FCM_RATE_WINDOW_SECONDS, a minute by
 * default: the window's share of the rate) before its sendEach, so that
 * together they stay under FCM's quota whatever mix of work is running.
 *
 * A window's budget is split over shard documents (`ops/fcmBudget/shards/{n}`,
 * 20 at the default rate, each holding what 500 sends a second come to), and
 * a sender takes a lease of up to LEASE sends from one chosen at random, in a
 * transaction: at full pace a shard is written about once every two seconds,
 * and a lease costs two reads and one write per 1,000 messages. What a lease
 * holds beyond the send that took it stays with the instance for its next
 * sends within the same window, so a trickle of single sends does not write
 * per send. When the window is spent, the senders hold their recipients,
 * attempt not counted, until the next one begins.
 *
 * Two lanes share each shard. Large sends (broadcast pages, big lists, jobs'
 * recipients) are the bulk lane and may take a shard only up to
 * (1 − PRIORITY_RESERVE) of it; small sends (laneOf: a message of at most
 * SMALL_SEND_DEVICES recipients, sending/small.ts) may take all of it. So a
 * draining broadcast that spends its share of every window still leaves the
 * reserve to a teacher's message or a Moodle private message, and each lane
 * keeps its own lease and its own "spent" note on the instance.
 *
 * `npm run ops -- fcm-rate <perMinute>` sets the rate without a deploy (FCM
 * granted more quota, or the operator wants less): `ops/fcmBudget`'s
 * `perMinute`, read in the same transaction as the shard.
 */

/** Sends a lease takes at least: one thousand, two full batches (at most a twentieth of a shard). */
export const LEASE = 1000;
/** The most shards a window is split over, and the sends per second of the window a shard holds (one batch). */
const MAX_SHARDS = 60;
const SHARD_SENDS_PER_SECOND = 500;
/** Shards tried before a sender concludes the window is spent. */
const TRIES = 3;
/** The share of each shard, and so of each window, that only the priority lane may take. */
export const PRIORITY_RESERVE = 0.05;
/** The most recipients a message of the priority lane has (sending/small.ts writes sends up to this size itself). */
export const PRIORITY_RECIPIENTS = 100;

export type Lane = "priority" | "bulk";

/** The lane a message's sends take: priority for a message known to have at most PRIORITY_RECIPIENTS recipients. */
export function laneOf(message: { recipientCount?: number | null }): Lane {
  return typeof message.recipientCount === "number" && message.recipientCount <= PRIORITY_RECIPIENTS ? "priority" : "bulk";
}

const budgetSettings = z.object({ perMinute: z.number().int().min(1).optional() });

/** The rate `ops/fcmBudget` sets, if it sets a valid one. */
function storedRate(data: DocumentData | undefined): number | undefined {
  return budgetSettings.safeParse(data ?? {}).data?.perMinute;
}

export function budgetRef() {
  return switchRef().parent.doc("fcmBudget");
}

function shardRef(shard: number) {
  return budgetRef().collection("shards").doc(String(shard));
}

/** What a window of `windowSeconds` may send at `perMinute`, and over how many shards (each about SHARD_SENDS_PER_SECOND a second of it). */
export function windowBudget(perMinute: number, windowSeconds: number): { sends: number; shards: number } {
  const sends = Math.max(1, Math.floor((perMinute * windowSeconds) / 60));
  return { sends, shards: Math.max(1, Math.min(MAX_SHARDS, Math.floor(sends / (SHARD_SENDS_PER_SECOND * windowSeconds)))) };
}

/** This instance's leases per lane: sends already taken from the window's budget and not yet sent. */
const leases: Record<Lane, { window: number; remaining: number }> = { priority: { window: -1, remaining: 0 }, bulk: { window: -1, remaining: 0 } };
/** Until when (ms) this instance found the window's budget spent, per lane. */
const spentUntil: Record<Lane, number> = { priority: 0, bulk: 0 };

/** What a sender may send now: `granted` of what it asked; the rest waits until `retryAtMs`. */
export interface Grant {
  granted: number;
  retryAtMs?: number;
  reads: number;
  writes: number;
}

/**
 * When this instance last found the budget spent, until the next window: a
 * dispatch claims nothing and a page is written pending rather than sent.
 * No I/O.
 */
export function budgetSpentUntil(lane: Lane, nowMs = Date.now()): number | undefined {
  return spentUntil[lane] > nowMs ? spentUntil[lane] : undefined;
}

/**
 * Takes `count` sends from the window's budget: from this instance's lease
 * when it holds enough, else from the shards. Grants fewer when the window
 * is spent; the caller holds the rest until `retryAtMs` (the next window,
 * spread over its first quarter, at most five seconds, so that held work
 * does not come back in one burst).
 */
export async function takeFcmBudget(count: number, lane: Lane, nowMs = Date.now()): Promise<Grant> {
  const windowMs = Math.max(1, FCM_RATE_WINDOW_SECONDS.value()) * 1000;
  const window = Math.floor(nowMs / windowMs);
  if (count <= 0) return { granted: 0, reads: 0, writes: 0 };
  const lease = leases[lane];
  if (lease.window === window && lease.remaining >= count) {
    lease.remaining -= count;
    return { granted: count, reads: 0, writes: 0 };
  }
  let taken = lease.window === window ? lease.remaining : 0;
  leases[lane] = { window, remaining: 0 };
  let reads = 0;
  let writes = 0;
  for (let tries = 0; taken < count && tries < TRIES; tries++) {
    const got = await leaseFromShard(window, windowMs / 1000, count - taken, lane);
    reads += 2;
    writes += got > 0 ? 1 : 0;
    taken += got;
  }
  // What was taken beyond this send stays for the instance's next sends of this lane this window.
  if (taken > count && leases[lane].window === window) leases[lane].remaining += taken - count;
  if (taken >= count) return { granted: count, reads, writes };
  spentUntil[lane] = (window + 1) * windowMs;
  logger.info("fcm budget: this window's sends are spent; the rest waits for the next", { lane, asked: count, granted: taken, until: new Date(spentUntil[lane]).toISOString() });
  return { granted: taken, retryAtMs: spentUntil[lane] + Math.floor(Math.random() * Math.min(5_000, windowMs / 4)), reads, writes };
}

/**
 * Up to `need` sends, and a lease beyond it, from one shard chosen at random
 * of this window's budget; 0 when it is spent. The lease is at most a
 * twentieth of the shard, so that a low rate is not held by one instance.
 */
async function leaseFromShard(window: number, windowSeconds: number, need: number, lane: Lane): Promise<number> {
  return runTransaction("fcmBudget", async (tx) => {
    const settings = await tx.get(budgetRef());
    const perMinute = storedRate(settings.data()) ?? FCM_MESSAGES_PER_MINUTE.value();
    const { sends, shards } = windowBudget(perMinute, windowSeconds);
    const index = Math.floor(Math.random() * shards);
    const ref = shardRef(index);
    const shard = await tx.get(ref);
    const used = shard.get("window") === window ? Number(shard.get("used") ?? 0) : 0;
    // The shards' shares add up to the window's budget.
    const whole = Math.floor(sends / shards) + (index < sends % shards ? 1 : 0);
    // The bulk lane leaves the reserve; a shard of one send (a tiny rate) keeps none.
    const capacity = lane === "priority" ? whole : Math.max(1, Math.floor(whole * (1 - PRIORITY_RESERVE)));
    const want = Math.max(need, Math.min(LEASE, Math.floor(whole / 20)));
    const granted = Math.max(0, Math.min(want, capacity - used));
    if (granted > 0) tx.set(ref, { window, used: used + granted, at: Timestamp.now() });
    return granted;
  });
}

/** The rate set without a deploy, or null when the parameter FCM_MESSAGES_PER_MINUTE holds. */
export async function readFcmRate(): Promise<number | null> {
  return storedRate((await budgetRef().get()).data()) ?? null;
}

/** Sets the project's FCM rate (sends per minute), or back to the parameter's with null. */
export async function setFcmRate(perMinute: number | null, by: string): Promise<void> {
  if (perMinute === null) await budgetRef().delete();
  else await budgetRef().set({ perMinute: budgetSettings.shape.perMinute.unwrap().parse(perMinute), by, at: Timestamp.now() });
  logger.warn("fcm budget: rate set", { perMinute, by });
}
