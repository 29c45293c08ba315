import { z } from "zod";
import { tokenSchema } from "../devices/schema";
import type { Platform } from "../shared/contract";

/**
 * The AirNotifier protocol as a Moodle site speaks it (see docs/moodle.md, "Use
 * with Moodle"): headers, paths, the answers Moodle reads, and the bodies it
 * sends. Names and strings here are what an unmodified Moodle compares with,
 * so they are defined once and never reworded.
 */

export const AIRNOTIFIER_HEADERS = { appName: "x-an-app-name", appKey: "x-an-app-key" } as const;

/** AirNotifier's own error texts: Moodle's check page compares `error` with "Invalid access key". */
export const AIRNOTIFIER_ERRORS = {
  appNameRequired: "app name is required",
  appKeyRequired: "app key is required",
  invalidAppName: "Invalid application name",
  invalidAccessKey: "Invalid access key",
  invalidToken: "Invalid token",
  unregisteredToken: "Unregistered token",
  noPermission: "No permission",
  invalidPush: "Invalid push",
  notFound: "Not found",
} as const;

/** E2's answers: anything else and Moodle never pushes to the device. */
export const TOKEN_STATUS = { created: "ok", exists: "token exists" } as const;

/** The token Moodle's check page registers to see whether its key works. */
export const TEST_TOKEN = "testtoken";

/** E1: `POST /accesskeys/` ("Request access key" on Moodle's settings page). */
/** The site's address (Moodle's wwwroot): an absolute http(s) URL, nothing else gets a key. */
const siteUrl = z
  .string()
  .max(2048)
  .regex(/^https?:\/\/[^\s\p{Cc}]+$/iu, "must be the site's http(s) address")
  .refine((value) => URL.canParse(value), "must be the site's http(s) address");

export const accessKeyRequest = z.object({
  url: siteUrl,
  siteid: z.string().max(256).optional(),
  contact: z.string().max(256).optional(),
  description: z.string().max(1024).optional(),
});
export type AccessKeyRequest = z.infer<typeof accessKeyRequest>;

/** E2: `POST /tokens/{token}` with form field `device` (`Android-fcm`, `iOS-fcm`, …). */
export const tokenRequest = z.object({ device: z.string().min(1).max(64) });

/**
 * E3: `POST /api/v2/push/`, JSON whatever the content type. `extra` is
 * Moodle's notification (see pushFcmMessage); `alert: null` marks an
 * encrypted one (extra.encrypted is the flag that counts).
 */
export const pushRequest = z.looseObject({
  device: z.string().max(64).optional(),
  token: tokenSchema,
  extra: z.record(z.string(), z.unknown()).default({}),
  alert: z.unknown().optional(),
});
export type PushRequest = z.infer<typeof pushRequest>;

/**
 * Our platform for Moodle's device string (`<Device.platform>-fcm` from the
 * app: `Android-fcm`, `iOS-fcm`; older apps sent `android`, `ios`). Anything
 * else is treated as Android: an FCM token is sent the same way on every
 * platform, and only the platform block (ignored where it does not apply)
 * depends on it.
 */
export function platformOf(device: string | undefined): Platform {
  const name = (device ?? "").toLowerCase();
  if (name.startsWith("ios")) return "ios";
  if (name.startsWith("web") || name.startsWith("browser") || name.startsWith("chrome") || name.startsWith("firefox")) return "web";
  return "android";
}
