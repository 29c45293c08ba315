import { z } from "zod";
import { RETIRED_REASONS } from "../shared/contract";
import { zTimestamp } from "../shared/firestore";
import { platformSchema } from "./input";

export * from "./input";

/** `devices/{deviceId}` as stored. */
export const deviceDoc = z.object({
  /** `devices/owner.ts`: the Firebase uid of an app's user, `<tenant>:<userId>` of a site's or partner's. */
  userId: z.string(),
  /** The tenant the device belongs to (`app` for the apps' own); absent on devices registered before tenants. */
  tenant: z.string().optional(),
  token: z.string(),
  platform: platformSchema,
  enabled: z.boolean(),
  badge: z.number(),
  appVersion: z.string().optional(),
  osVersion: z.string().optional(),
  locale: z.string().optional(),
  timezone: z.string().optional(),
  /** What the app said about itself (registerDevice's `userInfo`): stored, never matched by an audience. */
  userInfo: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  /** The school's attributes of the device's user, copied from `userAttributes` (devices/attributes.ts): what `where` audiences match. */
  attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  /**
   * An app user's muted categories, copied from `preferences/{uid}` (devices/mutes.ts): what audiences and
   * the dispatch leave out. Server-written; absent on devices written before the copy (`npm run ops -- migrate-mutes`).
   */
  mutedCategories: z.array(z.string()).optional(),
  /**
   * An app user's quiet hours, copied from `preferences/{uid}` (devices/mutes.ts) like the mutes: `{ start, end }`
   * (`HH:MM`, the device's time zone; start = end: none); null or absent: the site's (QUIET_HOURS).
   */
  quietHours: z.object({ start: z.string(), end: z.string() }).nullable().optional(),
  createdAt: zTimestamp,
  updatedAt: zTimestamp,
  retired: z.boolean(),
  retiredAt: zTimestamp.nullable().optional(),
  retiredReason: z.enum(RETIRED_REASONS).nullable().optional(),
});
export type DeviceDoc = z.infer<typeof deviceDoc>;

/** `userAttributes/{id}` as stored: the attributes the school set for one user (devices/attributes.ts). */
export const userAttributesDoc = z.object({
  /** The stored user id (devices/owner.ts): the document id is its SHA-256, since a partner's user id may hold "/". */
  userId: z.string(),
  tenant: z.string(),
  attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  updatedAt: zTimestamp,
  /** Who changed them last: a staff uid, or `key:<keyId>`. */
  updatedBy: z.string(),
});
export type UserAttributesDoc = z.infer<typeof userAttributesDoc>;
