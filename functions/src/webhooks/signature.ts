import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/*
 * Every delivery is signed as Stripe and GitHub sign theirs: HMAC-SHA-256,
 * keyed with the endpoint's own secret, over `<unix seconds>.<raw body>`,
 * sent as `Push-Signature: t=<unix seconds>,v1=<hex>`. The timestamp inside
 * the signed text lets a receiver refuse an old delivery replayed by someone
 * who captured it; the event id header lets it drop a retry it already took.
 */

export const SIGNATURE_HEADER = "Push-Signature";
export const EVENT_ID_HEADER = "Push-Event-Id";
export const EVENT_TYPE_HEADER = "Push-Event-Type";

/** A new endpoint's signing secret: 32 random bytes, shown to the partner once. */
export function newSigningSecret(): string {
  return `whsec_${randomBytes(32).toString("base64url")}`;
}

export function signatureHex(secret: string, timestamp: number, body: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex");
}

/** The header value for a body sent at `timestamp` (unix seconds). */
export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${signatureHex(secret, timestamp, body)}`;
}

/**
 * What a receiver does (docs/webhooks.md shows the same steps): the header's
 * timestamp within `toleranceSeconds` of now, and one of its `v1` values equal,
 * compared in constant time, to the HMAC of `<t>.<raw body>`.
 */
export function verifySignature(header: string, body: string, secret: string, toleranceSeconds = 300, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
  const parts = header.split(",").map((part) => part.trim().split("="));
  const timestamp = Number(parts.find(([name]) => name === "t")?.[1]);
  if (!Number.isInteger(timestamp) || Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false;
  const expected = Buffer.from(signatureHex(secret, timestamp, body), "hex");
  return parts.some(([name, value]) => {
    if (name !== "v1" || !value || !/^[0-9a-f]{64}$/.test(value)) return false;
    return timingSafeEqual(Buffer.from(value, "hex"), expected);
  });
}
