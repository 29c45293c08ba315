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
  userInfo: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  createdAt: zTimestamp,
  updatedAt: zTimestamp,
  retired: z.boolean(),
  retiredAt: zTimestamp.nullable().optional(),
  retiredReason: z.enum(RETIRED_REASONS).nullable().optional(),
});
export type DeviceDoc = z.infer<typeof deviceDoc>;
