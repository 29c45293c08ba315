import { Timestamp } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { z } from "zod";
import { FCM_MESSAGES_PER_MINUTE } from "../shared/params";
import { runTransaction } from "../shared/transaction";
import { switchRef } from "./pause";

/*
 * One FCM rate for the whole project. FCM counts a project's sends per
 * minute (600,000 by default); every path that sends — dispatch batches, the
 * trigger's inline batch, broadcast pages — takes what it is about to send
 * from one budget per clock minute before its sendEach, so that together
 * they stay under FCM's quota whatever mix of work is running.
 *
 * The minute's budget is split over up to 60 shard documents
 * (`ops/fcmBudget/shards/{n}`, about 10,000 sends each at the default), and a
 * sender takes a lease of up to LEASE sends from one chosen at random, in
 * a transaction: at full pace a shard is written about once every three
 * seconds, and a lease costs two reads and one write per 1,000 messages.
 * What a lease holds beyond the send that took it stays with the instance
 * for its next sends within the same minute, so a trickle of single sends
 * does not write per send. When the minute is spent, the senders hold their
 * recipients, attempt not counted, until the next minute begins.
 *
 * `npm run ops -- fcm-rate <perMinute>` sets the rate without a deploy (FCM
 * granted more quota, or the operator wants less): `ops/fcmBudget`'s
 * `perMinute`, read in the same transaction as the shard.
 */

/** Sends a lease takes at least: one thousand, two full batches (at most a twentieth of a shard). */
export const LEASE = 1000;
/** The most shards a minute is split over, and the sends a shard aims to hold. */
const MAX_SHARDS = 60;
const SHARD_TARGET = 10_000;
/** Shards tried before a sender concludes the minute is spent. */
const TRIES = 3;
const MINUTE_MS = 60_000;

const budgetSettings = z.object({ perMinute: z.number().int().min(1).optional() });

export function budgetRef() {
  return switchRef().parent.doc("fcmBudget");
}

function shardRef(shard: number) {
  return budgetRef().collection("shards").doc(String(shard));
}

/** How many shards a minute of `perMinute` sends is split over: each holds at least SHARD_TARGET (or all of it). */
export function shardCount(perMinute: number): number {
  return Math.max(1, Math.min(MAX_SHARDS, Math.floor(perMinute / SHARD_TARGET)));
}

/** This instance's lease: sends already taken from the minute's budget and not yet sent. */
let lease = { minute: -1, remaining: 0 };
/** Until when (ms) this instance found the minute's budget spent. */
let spentUntil = 0;

/** What a sender may send now: `granted` of what it asked; the rest waits until `retryAtMs`. */
export interface Grant {
  granted: number;
  retryAtMs?: number;
  reads: number;
  writes: number;
}

/**
 * When this instance last found the budget spent, until the next minute: a
 * dispatch claims nothing and a page is written pending rather than sent.
 * No I/O.
 */
export function budgetSpentUntil(nowMs = Date.now()): number | undefined {
  return spentUntil > nowMs ? spentUntil : undefined;
}

/**
 * Takes `count` sends from the minute's budget: from this instance's lease
 * when it holds enough, else from the shards. Grants fewer when the minute
 * is spent; the caller holds the rest until `retryAtMs` (the next minute,
 * spread over its first five seconds so that held work does not come back
 * in one burst).
 */
export async function takeFcmBudget(count: number, nowMs = Date.now()): Promise<Grant> {
  const minute = Math.floor(nowMs / MINUTE_MS);
  if (count <= 0) return { granted: 0, reads: 0, writes: 0 };
  if (lease.minute === minute && lease.remaining >= count) {
    lease.remaining -= count;
    return { granted: count, reads: 0, writes: 0 };
  }
  let taken = lease.minute === minute ? lease.remaining : 0;
  lease = { minute, remaining: 0 };
  let reads = 0;
  let writes = 0;
  for (let tries = 0; taken < count && tries < TRIES; tries++) {
    const got = await leaseFromShard(minute, count - taken);
    reads += 2;
    writes += got > 0 ? 1 : 0;
    taken += got;
  }
  // What was taken beyond this send stays for the instance's next sends this minute.
  if (taken > count && lease.minute === minute) lease.remaining += taken - count;
  if (taken >= count) return { granted: count, reads, writes };
  spentUntil = (minute + 1) * MINUTE_MS;
  logger.info("fcm budget: this minute's sends are spent; the rest waits for the next minute", { asked: count, granted: taken, until: new Date(spentUntil).toISOString() });
  return { granted: taken, retryAtMs: spentUntil + Math.floor(Math.random() * 5_000), reads, writes };
}

/**
 * Up to `need` sends, and a lease beyond it, from one shard chosen at random
 * of this minute's budget; 0 when it is spent. The lease is at most a
 * twentieth of the shard, so that a low rate is not held by one instance.
 */
async function leaseFromShard(minute: number, need: number): Promise<number> {
  return runTransaction("fcmBudget", async (tx) => {
    const settings = await tx.get(budgetRef());
    const perMinute = budgetSettings.safeParse(settings.data() ?? {}).data?.perMinute ?? FCM_MESSAGES_PER_MINUTE.value();
    const shards = shardCount(perMinute);
    const ref = shardRef(Math.floor(Math.random() * shards));
    const shard = await tx.get(ref);
    const used = shard.get("minute") === minute ? Number(shard.get("used") ?? 0) : 0;
    const capacity = Math.floor(perMinute / shards);
    const want = Math.max(need, Math.min(LEASE, Math.floor(capacity / 20)));
    const granted = Math.max(0, Math.min(want, capacity - used));
    if (granted > 0) tx.set(ref, { minute, used: used + granted, at: Timestamp.now() });
    return granted;
  });
}

/** The rate set without a deploy, or null when the parameter FCM_MESSAGES_PER_MINUTE holds. */
export async function readFcmRate(): Promise<number | null> {
  return budgetSettings.safeParse((await budgetRef().get()).data() ?? {}).data?.perMinute ?? null;
}

/** Sets the project's FCM rate (sends per minute), or back to the parameter's with null. */
export async function setFcmRate(perMinute: number | null, by: string): Promise<void> {
  if (perMinute === null) await budgetRef().delete();
  else await budgetRef().set({ perMinute: budgetSettings.shape.perMinute.unwrap().parse(perMinute), by, at: Timestamp.now() });
  logger.warn("fcm budget: rate set", { perMinute, by });
}
