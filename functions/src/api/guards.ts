import { createHash } from "node:crypto";
import { Timestamp } from "firebase-admin/firestore";
import { COLLECTIONS } from "../shared/contract";
import { db } from "../shared/firestore";
import { API_BAN_FAILURES, API_BAN_SECONDS, API_BAN_WINDOW_SECONDS, API_KEY_RATE_PER_MINUTE } from "../shared/params";

/**
 * Abuse guards of the HTTPS API, as fixed-window counters in `apiGuards`
 * documents changed inside transactions (function instances share nothing
 * else). Each document carries `expiresAt`, for a Firestore TTL policy on
 * that field to clear old counters. IPs are stored hashed, never in clear.
 */
function guards() {
  return db().collection(COLLECTIONS.apiGuards);
}

function ipGuard(ip: string) {
  return guards().doc(`ip-${createHash("sha256").update(ip).digest("hex").slice(0, 40)}`);
}

/** Seconds the IP is still banned for, or undefined when it is not. */
export async function banRemaining(ip: string): Promise<number | undefined> {
  const bannedUntil: unknown = (await ipGuard(ip).get()).get("bannedUntil");
  const left = typeof bannedUntil === "number" ? (bannedUntil - Date.now()) / 1000 : 0;
  return left > 0 ? left : undefined;
}

/** Counts one failed authentication from the IP; enough of them in one window ban it. */
export async function recordAuthFailure(ip: string): Promise<void> {
  const ref = ipGuard(ip);
  const threshold = Math.max(1, API_BAN_FAILURES.value());
  const windowMs = API_BAN_WINDOW_SECONDS.value() * 1000;
  const banMs = API_BAN_SECONDS.value() * 1000;
  await db().runTransaction(async (tx) => {
    const snapshot = await tx.get(ref);
    const now = Date.now();
    const windowStart = snapshot.get("windowStart");
    const inWindow = typeof windowStart === "number" && now - windowStart < windowMs;
    const failures = (inWindow ? Number(snapshot.get("failures") ?? 0) : 0) + 1;
    if (failures >= threshold) {
      // Banned: the count starts again, so the ban ends after banMs and a new one needs a new run of failures.
      tx.set(ref, { failures: 0, windowStart: now, bannedUntil: now + banMs, expiresAt: Timestamp.fromMillis(now + banMs + windowMs) });
    } else {
      tx.set(ref, { failures, windowStart: inWindow ? windowStart : now, bannedUntil: snapshot.get("bannedUntil") ?? 0, expiresAt: Timestamp.fromMillis(now + windowMs) });
    }
  });
}

/**
 * Counts one request of an access key in the current minute; returns the
 * seconds until the next minute when the key is over its rate. A refused
 * request is not counted, so a client that backs off gets through again.
 */
export async function rateLimited(keyId: string): Promise<number | undefined> {
  const ref = guards().doc(`key-${keyId}`);
  const limit = API_KEY_RATE_PER_MINUTE.value();
  return db().runTransaction(async (tx) => {
    const snapshot = await tx.get(ref);
    const now = Date.now();
    const minute = Math.floor(now / 60_000);
    const count = snapshot.get("minute") === minute ? Number(snapshot.get("count") ?? 0) : 0;
    if (count >= limit) return ((minute + 1) * 60_000 - now) / 1000;
    tx.set(ref, { minute, count: count + 1, expiresAt: Timestamp.fromMillis((minute + 2) * 60_000) });
    return undefined;
  });
}
