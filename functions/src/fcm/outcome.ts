import type { FirebaseError } from "firebase-admin/app";
import { NO_ANSWER_STATUS, type RetiredReason } from "../shared/contract";

/** What one FCM answer means for its recipient. */
export type SendOutcome =
  | { kind: "accepted"; fcmMessageId: string }
  /** The token is dead: a final status, and the device is retired if it still holds this token. */
  | { kind: "dead-token"; status: number; retire: RetiredReason; statusMessage: string }
  /** Worth another attempt later: 429, 500, 503, timeouts. */
  | { kind: "transient"; status: number; statusMessage: string; retryAfterSeconds?: number }
  | { kind: "failed"; status: number; statusMessage: string };

const TRANSIENT_CODES = new Set([
  "messaging/message-rate-exceeded",
  "messaging/device-message-rate-exceeded",
  "messaging/server-unavailable",
  "messaging/internal-error",
  "messaging/unknown-error",
  "app/network-timeout",
  "app/network-error",
]);

/** The HTTP status behind a transient code, for errors that arrive without a response. */
const STATUS_OF_CODE: Record<string, number> = {
  "messaging/message-rate-exceeded": 429,
  "messaging/device-message-rate-exceeded": 429,
  "messaging/server-unavailable": 503,
  "messaging/internal-error": 500,
};

/** Retry-After in seconds (a number or an HTTP date), if the answer had one. */
function retryAfterSeconds(err: Pick<FirebaseError, "httpResponse">): number | undefined {
  const header: unknown = err.httpResponse?.headers?.["retry-after"];
  const value: unknown = Array.isArray(header) ? header[0] : header;
  if (typeof value !== "string" && typeof value !== "number") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(String(value));
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}

export function classify(response: { success: boolean; messageId?: string; error?: FirebaseError }): SendOutcome {
  if (response.success) return { kind: "accepted", fcmMessageId: response.messageId ?? "" };
  const err: Pick<FirebaseError, "code" | "message" | "httpResponse"> = response.error ?? { code: "messaging/unknown-error", message: "no error given" };
  const httpStatus = err.httpResponse?.status;
  const statusMessage = `${err.code}: ${err.message}`.slice(0, 500);
  switch (err.code) {
    case "messaging/registration-token-not-registered":
      return { kind: "dead-token", status: -99, retire: "unregistered", statusMessage };
    case "messaging/invalid-registration-token":
      return { kind: "dead-token", status: 400, retire: "invalid", statusMessage };
    case "messaging/invalid-argument":
      // FCM v1 answers a malformed token with a plain INVALID_ARGUMENT; its text is what tells it apart from a bad payload.
      if (/registration token/i.test(err.message)) return { kind: "dead-token", status: 400, retire: "invalid", statusMessage };
      return { kind: "failed", status: httpStatus ?? 400, statusMessage };
    case "messaging/mismatched-credential":
      return { kind: "dead-token", status: 403, retire: "sender-mismatch", statusMessage };
  }
  if (TRANSIENT_CODES.has(err.code) || httpStatus === 429 || (httpStatus !== undefined && httpStatus >= 500)) {
    // A timeout or dropped connection has no HTTP status of its own.
    const status = httpStatus ?? STATUS_OF_CODE[err.code] ?? NO_ANSWER_STATUS;
    return { kind: "transient", status, statusMessage, retryAfterSeconds: retryAfterSeconds(err) };
  }
  return { kind: "failed", status: httpStatus ?? 400, statusMessage };
}
