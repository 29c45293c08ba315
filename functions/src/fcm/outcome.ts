import type { FirebaseError } from "firebase-admin/app";
import { NO_ANSWER_STATUS, THIRD_PARTY_AUTH_STATUS, type RetiredReason } from "../shared/contract";

/** What one FCM answer means for its recipient. */
export type SendOutcome =
  | { kind: "accepted"; fcmMessageId: string }
  /** The token is dead: a final status, and the device is retired if it still holds this token. */
  | { kind: "dead-token"; status: number; retire: RetiredReason; statusMessage: string }
  /** Worth another attempt later: 429, 500, 503, timeouts. */
  | { kind: "transient"; status: number; statusMessage: string; retryAfterSeconds?: number; quota?: boolean }
  /**
   * FCM refused the project, not the token (the FCM API disabled, the runtime
   * account without the messaging permission, a wrong project id): nothing is
   * wrong with the device. Delivery stops; the recipient waits, its attempt
   * not spent.
   */
  | { kind: "project-fault"; status: number; fault: ProjectFault; statusMessage: string }
  | { kind: "failed"; status: number; statusMessage: string };

export const PROJECT_FAULTS = ["permission-denied", "unauthenticated", "not-found"] as const;
export type ProjectFault = (typeof PROJECT_FAULTS)[number];

/** FCM's own error code: the `errorCode` of the google.firebase.fcm.v1.FcmError detail of its answer, if it had one. */
export function fcmErrorCode(data: unknown): string | undefined {
  const details: unknown = (data as { error?: { details?: unknown } } | null | undefined)?.error?.details;
  if (!Array.isArray(details)) return undefined;
  for (const detail of details as unknown[]) {
    const entry = detail as { "@type"?: unknown; errorCode?: unknown } | null;
    if (entry?.["@type"] === "type.googleapis.com/google.firebase.fcm.v1.FcmError" && typeof entry.errorCode === "string") return entry.errorCode;
  }
  return undefined;
}

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

/** The Google API error's status (`PERMISSION_DENIED`, `UNAUTHENTICATED`, `NOT_FOUND`…), if the answer had one. */
function googleStatus(data: unknown): string | undefined {
  const status: unknown = (data as { error?: { status?: unknown } } | null | undefined)?.error?.status;
  return typeof status === "string" ? status : undefined;
}

/**
 * What FCM's answer means, decided from FCM's own answer (its HTTP status and
 * the FcmError detail's errorCode) and not from firebase-admin's mapped code
 * alone: firebase-admin maps a 403 without a detail (a project refused) to
 * `messaging/mismatched-credential` and a bare 404 (a wrong project) to
 * `messaging/registration-token-not-registered`, the codes that retire a
 * device. Errors without an HTTP answer (timeouts) fall back to the mapped code.
 */
export function classify(response: { success: boolean; messageId?: string; error?: FirebaseError }): SendOutcome {
  if (response.success) return { kind: "accepted", fcmMessageId: response.messageId ?? "" };
  const err: Pick<FirebaseError, "code" | "message" | "httpResponse"> = response.error ?? { code: "messaging/unknown-error", message: "no error given" };
  const httpStatus = err.httpResponse?.status;
  const fcmCode = fcmErrorCode(err.httpResponse?.data);
  // FCM's own words first: its errorCode, else the Google API status (PERMISSION_DENIED…), else firebase-admin's code.
  const statusMessage = `${fcmCode ?? googleStatus(err.httpResponse?.data) ?? err.code}: ${err.message}`.slice(0, 500);
  if (httpStatus !== undefined) {
    const fromFcm = classifyAnswer(httpStatus, fcmCode, err.message, statusMessage, err);
    if (fromFcm) return fromFcm;
  } else {
    switch (err.code) {
      case "messaging/registration-token-not-registered":
        return { kind: "dead-token", status: -99, retire: "unregistered", statusMessage };
      case "messaging/invalid-registration-token":
        return { kind: "dead-token", status: 400, retire: "invalid", statusMessage };
    }
  }
  if (TRANSIENT_CODES.has(err.code) || httpStatus === 429 || (httpStatus !== undefined && httpStatus >= 500)) {
    // A timeout or dropped connection has no HTTP status of its own.
    const status = httpStatus ?? STATUS_OF_CODE[err.code] ?? NO_ANSWER_STATUS;
    return { kind: "transient", status, statusMessage, retryAfterSeconds: retryAfterSeconds(err), ...(fcmCode === "QUOTA_EXCEEDED" && { quota: true }) };
  }
  return { kind: "failed", status: httpStatus ?? 400, statusMessage };
}

/** FCM's answer with an HTTP status, or undefined for the generic transient/failed rules. */
function classifyAnswer(httpStatus: number, fcmCode: string | undefined, message: string, statusMessage: string, err: Pick<FirebaseError, "httpResponse">): SendOutcome | undefined {
  switch (fcmCode) {
    case "UNREGISTERED":
      return { kind: "dead-token", status: -99, retire: "unregistered", statusMessage };
    case "SENDER_ID_MISMATCH":
      return { kind: "dead-token", status: 403, retire: "sender-mismatch", statusMessage };
    case "INVALID_ARGUMENT":
      // FCM v1 answers a malformed token with a plain INVALID_ARGUMENT; its text is what tells it apart from a bad payload.
      if (/registration token/i.test(message)) return { kind: "dead-token", status: 400, retire: "invalid", statusMessage };
      return { kind: "failed", status: httpStatus, statusMessage };
    case "THIRD_PARTY_AUTH_ERROR":
      // APNs or web push refused the project's credentials: the device is fine, the credentials need fixing.
      return { kind: "failed", status: THIRD_PARTY_AUTH_STATUS, statusMessage };
    case "QUOTA_EXCEEDED":
      return { kind: "transient", status: 429, statusMessage, retryAfterSeconds: retryAfterSeconds(err), quota: true };
  }
  // 401, 403 or 404 without a per-token errorCode: FCM refused the project.
  if (httpStatus === 403) return { kind: "project-fault", status: 403, fault: "permission-denied", statusMessage };
  if (httpStatus === 401) return { kind: "project-fault", status: 401, fault: "unauthenticated", statusMessage };
  if (httpStatus === 404) return { kind: "project-fault", status: 404, fault: "not-found", statusMessage };
  return undefined;
}
