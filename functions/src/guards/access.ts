import { rangeList } from "../keys/schema";
import { verifyKey, type VerifiedKey } from "../keys/service";
import type { KeySurface } from "../shared/contract";
import { API_MAX_BODY_BYTES } from "../shared/params";
import { banRemaining, rateLimited, recordAuthFailure } from "./counters";

/**
 * The checks every keyed endpoint makes, in this order: a banned address is
 * refused before anything else is looked at; then the body size; then the key
 * (a failure counts toward the address's ban); the key's surface (a Moodle
 * site's key works only on the AirNotifier endpoints, a partner's only on
 * `/v1`); its IP ranges; its rate.
 * Each step returns why it refused (or what it found), and each endpoint says
 * it in its own wire format: the partner API's JSON errors, AirNotifier's.
 */
export type Refusal =
  | { kind: "banned"; retryAfterSeconds: number }
  | { kind: "too-large"; maxBytes: number }
  | { kind: "bad-key" }
  /** The key is for the other surface, or predates surfaces (`keySurface` null) and must be migrated first. */
  | { kind: "wrong-surface"; keySurface: KeySurface | null }
  | { kind: "address-not-allowed" }
  | { kind: "rate"; retryAfterSeconds: number };

/** A banned address or an oversized body (over `maxBytes`, API_MAX_BODY_BYTES by default), before any key is looked at. */
export async function admitRequest(ip: string, bodyBytes: number, maxBytes = API_MAX_BODY_BYTES.value()): Promise<Refusal | undefined> {
  const banned = await banRemaining(ip);
  if (banned !== undefined) return { kind: "banned", retryAfterSeconds: banned };
  if (bodyBytes > maxBytes) return { kind: "too-large", maxBytes };
  return undefined;
}

/** The live key of a presented secret; a missing or wrong one counts as a failed authentication from `ip`. */
export async function authenticate(ip: string, secret: string | undefined): Promise<VerifiedKey | Refusal> {
  const key = secret ? await verifyKey(secret) : undefined;
  if (key) return key;
  await recordAuthFailure(ip);
  return { kind: "bad-key" };
}

/** The key's surface, its IP ranges, then its rate (`perMinute` requests per clock minute; the partner API's rate by default). */
export async function checkKeyUse(key: VerifiedKey, ip: string, surface: KeySurface, perMinute?: number): Promise<Refusal | undefined> {
  if (key.key.surface !== surface || key.key.tenant === undefined) return { kind: "wrong-surface", keySurface: key.key.surface ?? null };
  if (key.key.ipRanges.length > 0 && !rangeList(key.key.ipRanges).check(ip, ip.includes(":") ? "ipv6" : "ipv4")) {
    return { kind: "address-not-allowed" };
  }
  const retryAfter = await rateLimited(key.keyId, perMinute);
  return retryAfter === undefined ? undefined : { kind: "rate", retryAfterSeconds: retryAfter };
}

export function isRefusal(value: VerifiedKey | Refusal): value is Refusal {
  return "kind" in value;
}

/** The body's size as received (what the size limit applies to). */
export function bodyBytes(req: { rawBody?: Buffer; get(name: string): string | undefined }): number {
  return req.rawBody?.length ?? Number(req.get("content-length") ?? 0);
}
