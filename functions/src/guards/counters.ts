import { createHash, randomInt } from "node:crypto";
import { FieldValue, Timestamp, type DocumentReference } from "firebase-admin/firestore";
import { COLLECTIONS } from "../shared/contract";
import { db } from "../shared/firestore";
import { runTransaction } from "../shared/transaction";
import { API_BAN_FAILURES, API_BAN_SECONDS, API_BAN_WINDOW_SECONDS, API_KEY_RATE_PER_MINUTE } from "../shared/params";
import type { NewDeviceAllowance } from "../devices/siteTokens";
import { addressKey } from "./address";

/**
 * Abuse guards of the keyed HTTP endpoints (the partner API and the
 * AirNotifier-compatible ones), as fixed-window counters in `apiGuards`
 * documents changed inside transactions (function instances share nothing
 * else). Each document carries `expiresAt`, for a Firestore TTL policy on
 * that field to clear old counters. Addresses count by addressKey (an IPv4
 * address, an IPv6 /64) and are stored hashed, never in clear.
 */
function guards() {
  return db().collection(COLLECTIONS.apiGuards);
}

/** The address's key (IPv6 by its /64), hashed: what its ban and quota documents are named by. */
function hashedIp(ip: string): string {
  return createHash("sha256").update(addressKey(ip)).digest("hex").slice(0, 40);
}

function ipGuard(ip: string) {
  return guards().doc(`ip-${hashedIp(ip)}`);
}

/** Seconds the IP (an IPv6 address: its /64) is still banned for, or undefined when it is not. */
export async function banRemaining(ip: string): Promise<number | undefined> {
  const bannedUntil: unknown = (await ipGuard(ip).get()).get("bannedUntil");
  const left = typeof bannedUntil === "number" ? (bannedUntil - Date.now()) / 1000 : 0;
  return left > 0 ? left : undefined;
}

/** Counts one failed authentication from the IP (an IPv6 address: toward its /64); enough of them in one window ban it. */
export async function recordAuthFailure(ip: string): Promise<void> {
  const ref = ipGuard(ip);
  const threshold = Math.max(1, API_BAN_FAILURES.value());
  const windowMs = API_BAN_WINDOW_SECONDS.value() * 1000;
  const banMs = API_BAN_SECONDS.value() * 1000;
  await runTransaction("apiGuard", async (tx) => {
    const snapshot = await tx.get(ref);
    const now = Date.now();
    const windowStart: unknown = snapshot.get("windowStart");
    const inWindow = typeof windowStart === "number" && now - windowStart < windowMs;
    const failures = (inWindow ? Number(snapshot.get("failures") ?? 0) : 0) + 1;
    if (failures >= threshold) {
      // Banned: the count starts again, so the ban ends after banMs and a new one needs a new run of failures.
      tx.set(ref, { failures: 0, windowStart: now, bannedUntil: now + banMs, expiresAt: Timestamp.fromMillis(now + banMs + windowMs) });
    } else {
      tx.set(ref, { failures, windowStart: inWindow ? windowStart : now, bannedUntil: Number(snapshot.get("bannedUntil") ?? 0), expiresAt: Timestamp.fromMillis(now + windowMs) });
    }
  });
}

/**
 * Documents a window's count is spread over: each holds at most SHARD_UNITS
 * of the limit, so that a key at its full rate writes none of them more than
 * about once a second (a minute's window), up to MAX_SHARDS (6,400 a minute).
 * A limit of 50 or less stays on one document and is counted exactly.
 */
const SHARD_UNITS = 50;
const MAX_SHARDS = 128;

/** How many documents a window with this limit is spread over. */
export function windowShards(limit: number): number {
  return Math.min(MAX_SHARDS, Math.max(1, Math.ceil(limit / SHARD_UNITS)));
}

/** One shard of a window, chosen at random (other than `not`), and its share of the limit (the shares add up to the limit). */
function windowShard(id: string, window: number, limit: number, not?: number): { ref: DocumentReference; share: number; shard: number } {
  const shards = windowShards(limit);
  const shard = not === undefined || shards === 1 ? randomInt(shards) : (not + 1 + randomInt(shards - 1)) % shards;
  const share = Math.floor(limit / shards) + (shard < limit % shards ? 1 : 0);
  return { ref: guards().doc(shards === 1 ? `${id}-w${window}` : `${id}-w${window}-s${shard}`), share, shard };
}

/**
 * Takes one unit from a fixed window of `windowSeconds` shared by everyone
 * counting under `id`; returns the seconds until the next window when this
 * one already holds `limit`. A refused request is not counted, so a client
 * that backs off gets through again.
 *
 * Read and then incremented, with no transaction: a key's requests arrive in
 * bursts (a Moodle site pushes hundreds at once), and transactions on one
 * document would queue them behind each other's locks. The price is that
 * requests arriving together may pass the limit by however many were in
 * flight; sequential ones are counted exactly. A high limit is spread over
 * shards (windowShards): a request counts on one at random, and one found
 * full is tried once more on another before the request is refused.
 */
async function takeFromWindow(id: string, limit: number, windowSeconds: number): Promise<number | undefined> {
  const windowMs = Math.max(1, windowSeconds) * 1000;
  const now = Date.now();
  const window = Math.floor(now / windowMs);
  let full: number | undefined;
  for (let tries = windowShards(limit) === 1 ? 1 : 2; tries > 0; tries--) {
    const { ref, share, shard } = windowShard(id, window, limit, full);
    const count = Number((await ref.get()).get("count") ?? 0);
    if (count >= share) {
      full = shard;
      continue;
    }
    await ref.set({ count: FieldValue.increment(1), expiresAt: Timestamp.fromMillis((window + 2) * windowMs) }, { merge: true });
    return undefined;
  }
  return ((window + 1) * windowMs - now) / 1000;
}

/**
 * Counts one request of an access key in the current minute; returns the
 * seconds until the next minute when the key is over `perMinute` (by default
 * API_KEY_RATE_PER_MINUTE, the partner API's rate).
 */
export function rateLimited(keyId: string, perMinute = API_KEY_RATE_PER_MINUTE.value()): Promise<number | undefined> {
  return takeFromWindow(`key-${keyId}`, perMinute, 60);
}

/**
 * Counts one receipt reported for a device (ackMessage) in the current
 * minute; returns the seconds until the next minute when the device is over
 * `perMinute`. Keyed by the device, not the user: it is one app install that
 * loops. Counted like a key's requests (no transaction, spread over shards
 * above 50 a minute), so an app's burst is not serialized on one document.
 */
export function ackRateLimited(deviceId: string, perMinute: number): Promise<number | undefined> {
  return takeFromWindow(`acks-${deviceId}`, perMinute, 60);
}

/**
 * A key's daily allowance of new devices, read without a transaction and
 * counted after the fact, so that it can be read beside the lookup it guards
 * and adds no round trip to a push: devices created in the same instant may
 * pass it by their number, as the request rate may.
 */
export async function newDeviceAllowance(keyId: string, perDay: number): Promise<NewDeviceAllowance> {
  const windowMs = 86_400_000;
  const now = Date.now();
  const window = Math.floor(now / windowMs);
  // Spread like the request rate (windowShards): a site's first sync creates devices in bursts.
  const { ref, share } = windowShard(`devices-${keyId}`, window, perDay);
  const count = Number((await ref.get()).get("count") ?? 0);
  return {
    ...(count >= share && { fullForSeconds: ((window + 1) * windowMs - now) / 1000 }),
    take: async () => {
      await ref.set({ count: FieldValue.increment(1), expiresAt: Timestamp.fromMillis((window + 2) * windowMs) }, { merge: true });
    },
  };
}

/**
 * Takes one unit of what an address (IPv6: its /64) may do a few times per window (`what`,
 * e.g. access keys issued to it); returns the seconds until the next window
 * when it already did `limit`. Unlike the request rate, every unit matters
 * here and such requests are rare, so the window's document is read and
 * counted in one transaction: requests sent in parallel cannot pass the
 * limit together.
 */
export async function takeAddressQuota(ip: string, what: string, limit: number, windowSeconds: number): Promise<number | undefined> {
  const windowMs = Math.max(1, windowSeconds) * 1000;
  return runTransaction("addressQuota", async (tx) => {
    const now = Date.now();
    const window = Math.floor(now / windowMs);
    const ref = guards().doc(`${what}-${hashedIp(ip)}-w${window}`);
    const count = Number((await tx.get(ref)).get("count") ?? 0);
    if (count >= limit) return ((window + 1) * windowMs - now) / 1000;
    tx.set(ref, { count: count + 1, expiresAt: Timestamp.fromMillis((window + 2) * windowMs) });
    return undefined;
  });
}
