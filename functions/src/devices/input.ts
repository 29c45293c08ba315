import { z } from "zod";
import { LIMITS, PLATFORMS } from "../shared/contract";

/**
 * What apps send about their devices: the callables' and the HTTPS API's inputs.
 * Free of server-only imports, so the console and app developers bundle it too.
 */

/** App-provided device ID: a hash of the hardware ID and the app, used as the document id. */
export const deviceIdSchema = z
  .string({ error: "must be a string" })
  .min(8, "must be at least 8 characters")
  .max(128, "must be at most 128 characters")
  .regex(/^[A-Za-z0-9_-]+$/, "may contain only letters, digits, '-' and '_'")
  // Firestore reserves document ids of the form __x__ (the pattern already rules out "/", "." and "..").
  .refine((id) => !/^__.*__$/.test(id), "must not have the form __x__ (reserved by Firestore)");

export const tokenSchema = z
  .string({ error: "must be a string" })
  .min(8, "must be at least 8 characters")
  .max(1024, "must be at most 1024 characters")
  .regex(/^\S+$/, "must not contain whitespace")
  // NUL and other control characters are never part of an FCM token (\S lets them through).
  .regex(/^\P{Cc}+$/u, "must not contain control characters");

export const platformSchema = z.enum(PLATFORMS, { error: `must be one of ${PLATFORMS.join(", ")}` });

const localeSchema = z
  .string()
  .max(35, "must be at most 35 characters")
  .refine((value) => {
    try {
      return Intl.getCanonicalLocales(value).length === 1;
    } catch {
      return false;
    }
  }, "must be a BCP 47 language tag such as en-US");

const timezoneSchema = z
  .string()
  .max(64, "must be at most 64 characters")
  .refine((value) => {
    try {
      new Intl.DateTimeFormat("en-US", { timeZone: value });
      // Intl also takes UTC offsets ("+05:00"), which are not IANA names.
      return /^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(value);
    } catch {
      return false;
    }
  }, "must be an IANA time zone such as Europe/Paris");

/** An attribute's name: simple, since it becomes a field path in queries (`attributes.<name>`). */
export const attributeNameSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/, "keys must start with a letter and hold at most 40 letters, digits or '_'");

export const attributeValueSchema = z.union([z.string().max(256, "string values must be at most 256 characters"), z.number().finite(), z.boolean()], {
  error: "values must be strings, numbers or booleans",
});

/**
 * What an app says about itself (its own preferences, say): at most 20 scalar
 * values under simple keys. Stored on the device as `userInfo`, never matched
 * by an audience: `where` matches only the attributes the school set
 * (`attributes`). Names the school owns (the SERVER_ATTRIBUTES param) are
 * refused by registerDevice.
 */
export const userInfoSchema = z
  .record(attributeNameSchema, attributeValueSchema)
  .refine((value) => Object.keys(value).length <= LIMITS.userInfoEntries, `must have at most ${LIMITS.userInfoEntries} entries`);

/** A user of the caller's tenant, as the caller names it (an app user's Firebase uid; a partner's own user id). */
export const userIdSchema = z.string({ error: "must be a string" }).min(1, "must not be empty").max(128, "must be at most 128 characters");

/**
 * Changes to a user's school-set attributes: a value sets the attribute, null
 * removes it, an attribute not named is left as it is (a merge, so that
 * several school systems may each keep their own attributes of a user).
 */
export const attributeChangesSchema = z
  .record(attributeNameSchema, attributeValueSchema.nullable())
  .refine((value) => Object.keys(value).length <= LIMITS.userAttributesMax, `must name at most ${LIMITS.userAttributesMax} attributes`);

/** `setUserAttributes` (staff) and, with the user id from the path, `PUT /v1/users/{userId}/attributes`. */
export const setUserAttributesInput = z.strictObject({ userId: userIdSchema, attributes: attributeChangesSchema });
export type SetUserAttributesRequest = z.input<typeof setUserAttributesInput>;
/** The body of `PUT /v1/users/{userId}/attributes`. */
export const userAttributesBody = setUserAttributesInput.pick({ attributes: true });

export const setUserAttributesResult = z.strictObject({
  userId: z.string(),
  /** The user's attributes after the change, all of them. */
  attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  /** The user's devices whose copy was updated by this call. */
  devices: z.number().int(),
});
export type SetUserAttributesResult = z.infer<typeof setUserAttributesResult>;

const versionSchema = z.string().min(1).max(64, "must be at most 64 characters").regex(/^\P{Cc}+$/u, "must not contain control characters");

export const registerDeviceInput = z.strictObject({
  deviceId: deviceIdSchema,
  token: tokenSchema,
  platform: platformSchema,
  appVersion: versionSchema.optional(),
  osVersion: versionSchema.optional(),
  locale: localeSchema.optional(),
  timezone: timezoneSchema.optional(),
  userInfo: userInfoSchema.optional(),
});
export type RegisterDeviceInput = z.infer<typeof registerDeviceInput>;
/** registerDevice's answer (and `POST /v1/devices`'): `created` is false when the device was already there. */
export const registerDeviceResult = z.strictObject({ deviceId: z.string(), created: z.boolean() });
export type RegisterDeviceResult = z.infer<typeof registerDeviceResult>;
export const deleteDeviceResult = z.strictObject({ deviceId: z.string(), deleted: z.literal(true) });
export type DeleteDeviceResult = z.infer<typeof deleteDeviceResult>;

export const deviceRefInput = z.strictObject({ deviceId: deviceIdSchema });
export const setDeviceEnabledInput = z.strictObject({
  deviceId: deviceIdSchema,
  enabled: z.boolean({ error: "must be true or false" }),
});
export const emptyInput = z.strictObject({});


/**
 * One device of a bulk import (`npm run import`, `POST /v1/devices:batchImport`):
 * registerDevice's fields, whose device it is (`userId`, a user of the
 * importing tenant) and, optionally, its device id. Without one (a table of
 * users and tokens has none) the id is derived from the tenant and the token
 * (devices/import.ts), so the same token always lands on the same device.
 */
export const importDeviceRow = registerDeviceInput.extend({ userId: userIdSchema, deviceId: deviceIdSchema.optional() });
export type ImportDeviceRow = z.infer<typeof importDeviceRow>;

/**
 * The body of `POST /v1/devices:batchImport`. Each device is checked on its own
 * (`importDeviceRow`): a bad one is reported as rejected, the others go in.
 * More than LIMITS.importBatchMax is refused whole, before anything is written.
 */
export const batchImportInput = z.strictObject({
  devices: z
    .array(z.unknown(), { error: "must be a list of devices" })
    .min(1, "must hold at least one device")
    .max(LIMITS.importBatchMax, `must hold at most ${LIMITS.importBatchMax} devices per request; send the rest in further requests`),
  /** Report what would change and write nothing. */
  dryRun: z.boolean({ error: "must be true or false" }).optional(),
});

export const IMPORT_OUTCOMES = ["imported", "updated", "unchanged", "rejected"] as const;
export type ImportOutcome = (typeof IMPORT_OUTCOMES)[number];

/** What became of one row; a rejected row names the field and why (never the token itself). */
export const importRowResult = z.strictObject({
  /** 1-based: the position in `devices`, or the CSV's data row (1 = the line after the header). */
  row: z.number().int().min(1),
  outcome: z.enum(IMPORT_OUTCOMES),
  deviceId: z.string().optional(),
  field: z.string().optional(),
  reason: z.string().optional(),
});
export type ImportRowResult = z.infer<typeof importRowResult>;

export const importReport = z.strictObject({
  dryRun: z.boolean(),
  counts: z.strictObject({ imported: z.number().int(), updated: z.number().int(), unchanged: z.number().int(), rejected: z.number().int() }),
  rows: z.array(importRowResult),
});
export type ImportReport = z.infer<typeof importReport>;
