/**
 * The external contract of DESIGN.md, defined once: collection names, status
 * codes and retirement reasons. Everything else imports from here.
 */

export const COLLECTIONS = {
  devices: "devices",
  messages: "messages",
  recipients: "recipients",
} as const;

/** Per-recipient delivery status. Positive values other than 200 are FCM's HTTP status of a final failure. */
export const STATUS = {
  pending: -1,
  inProcess: -2,
  cancelled: -3,
  skippedDisabled: -4,
  notRegistered: -99,
  accepted: 200,
} as const;

/** True when a recipient with this status will not change any more. */
export function isFinalStatus(status: number): boolean {
  return status !== STATUS.pending && status !== STATUS.inProcess;
}

export const PLATFORMS = ["ios", "android", "web"] as const;
export type Platform = (typeof PLATFORMS)[number];

export const RETIRED_REASONS = ["unregistered", "invalid", "sender-mismatch", "stale", "replaced"] as const;
export type RetiredReason = (typeof RETIRED_REASONS)[number];

export const LIMITS = {
  titleMax: 50,
  bodyMax: 1800,
  /** FCM rejects a message whose payload exceeds this many bytes. */
  fcmPayloadBytes: 4096,
  userInfoEntries: 20,
} as const;
