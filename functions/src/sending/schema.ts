import { z } from "zod";
import { attributeNameSchema, attributeValueSchema, deviceIdSchema, userIdSchema } from "../devices/input";
import { buildFcmPayload, payloadBytes, placeholderNames } from "../fcm/payload";
import { LIMITS, MAX_TTL_SECONDS, MESSAGE_STATES, PLATFORMS, URGENCIES } from "../shared/contract";
import { parseHourMinute, parseWallTime } from "../shared/zones";
import { translationsSchema, unfillablePlaceholder } from "../languages/schema";
import { languagesReport, audienceLanguages } from "../languages/report";
import type { MessageDoc } from "../messages/schema";

/**
 * Inputs of the staff callables and of the HTTPS API: one schema each, shared
 * by both entry points so that a body is valid for one exactly when it is
 * valid for the other. Free of server-only imports: the staff console bundles
 * this module and validates with it as the functions do.
 */

export { userIdSchema };

export const categorySchema = z
  .string({ error: "must be a string" })
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "must be 1–64 letters, digits, '.', '-' or '_', starting with a letter or digit");

const varValue = z.union([z.string().max(1024), z.number().finite(), z.boolean()], { error: "values must be strings, numbers or booleans" });
const varsOfUser = z.record(z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "names must be 1–64 letters, digits, '.', '-' or '_'"), varValue);

/** Names and values of the attributes the school set (devices' `attributes`), never the apps' `userInfo`. */
const whereSchema = z.record(attributeNameSchema, attributeValueSchema).refine((value) => Object.keys(value).length >= 1 && Object.keys(value).length <= LIMITS.audienceWhereMax, {
  error: `must have 1 to ${LIMITS.audienceWhereMax} key/value pairs`,
});

const AUDIENCE_HELP = "must be one of { users: [...] }, { devices: [...] }, { all: true } or { where: {...}, match: \"all\" | \"any\" }";

/**
 * Who a message goes to. Picked by its key before parsing, so that an error
 * names the field inside the audience (`audience.users.3`) rather than only
 * "no option matched".
 */
const audienceShapes = {
  users: z.strictObject({ users: z.array(userIdSchema).min(1, "must name at least one user").max(LIMITS.audienceListMax, `must name at most ${LIMITS.audienceListMax} users`) }),
  devices: z.strictObject({ devices: z.array(deviceIdSchema).min(1, "must name at least one device").max(LIMITS.audienceListMax, `must name at most ${LIMITS.audienceListMax} devices`) }),
  all: z.strictObject({ all: z.literal(true, { error: "must be true" }) }),
  where: z.strictObject({ where: whereSchema, match: z.enum(["all", "any"], { error: "must be \"all\" or \"any\"" }).default("all") }),
};

export const audienceSchema = z.unknown().transform((value, ctx) => {
  const kind = value && typeof value === "object" && !Array.isArray(value) ? Object.keys(audienceShapes).find((k) => k in value) : undefined;
  if (!kind) {
    ctx.addIssue({ code: "custom", message: AUDIENCE_HELP });
    return z.NEVER;
  }
  const parsed = audienceShapes[kind as keyof typeof audienceShapes].safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: issue.path });
    return z.NEVER;
  }
  return parsed.data;
});
/**
 * An audience as a client writes it (`match` may be left out): the shapes
 * `audienceSchema` picks from, as one union, for documents that describe the
 * request (api/openapi.ts) rather than check it.
 */
export const audienceRequestSchema = z.union([audienceShapes.users, audienceShapes.devices, audienceShapes.all, audienceShapes.where]);
export type AudienceRequest = z.input<typeof audienceRequestSchema>;
export type Audience = z.output<typeof audienceShapes.users> | z.output<typeof audienceShapes.devices> | z.output<typeof audienceShapes.all> | z.output<typeof audienceShapes.where>;

/** Longest ids a message gets (an idempotent id is 40 hex characters): used to size the payload before the id exists. */
const LONGEST_MESSAGE_ID = "m".repeat(40);
/** A recipient's collapse id is 32 characters (fcm/build.ts). */
const COLLAPSE_ID_SIZE = 32;

/** The content fields that decide a notification's size. */
export type PayloadFields = Pick<MessageDoc, "title" | "body" | "data" | "link" | "imageUrl" | "sound" | "collapseKey" | "ttlSeconds" | "priority" | "badge" | "dataOnly" | "urgency" | "translations"> & {
  vars?: Record<string, Record<string, string | number | boolean>>;
};

/**
 * The largest FCM payload, in bytes, that any recipient of this message could
 * get: every platform, placeholders unfilled and filled with each user's vars.
 * sendMessage refuses a message over LIMITS.fcmPayloadBytes; the console shows
 * the same figure live while a message is composed.
 */
export function largestPayloadBytes(input: PayloadFields): number {
  return Math.max(...Object.values(largestPayloadBytesByText(input)));
}

/**
 * largestPayloadBytes for the default text (key "") and for each translation
 * (by its tag): FCM's limit holds for every language a device may get.
 */
export function largestPayloadBytesByText(input: PayloadFields): Record<string, number> {
  const { translations, ...rest } = input;
  const sizes: Record<string, number> = { "": largestPayloadBytesOf(rest) };
  for (const [tag, text] of Object.entries(translations ?? {})) sizes[tag] = largestPayloadBytesOf({ ...rest, ...text });
  return sizes;
}

function largestPayloadBytesOf(input: PayloadFields): number {
  const { vars: allVars, ...content } = input;
  const message: MessageDoc = content;
  const names = placeholderNames(`${input.title}\n${input.body}`);
  const asWritten = Object.fromEntries([...names].map((name) => [name, `{{${name}}}`]));
  const varSets = [asWritten, ...Object.values(allVars ?? {}).map((vars) => ({ ...asWritten, ...vars }))];
  const collapseId = input.collapseKey ?? "c".repeat(COLLAPSE_ID_SIZE);
  let largest = 0;
  for (const platform of PLATFORMS) {
    for (const vars of varSets) {
      const fcm = buildFcmPayload({ messageId: LONGEST_MESSAGE_ID, recipientId: "r".repeat(22), collapseId, message, token: "t", platform, vars, badge: input.badge === undefined ? undefined : 99999 });
      largest = Math.max(largest, payloadBytes(fcm));
    }
  }
  return largest;
}

/** When the last time zone (UTC-12) reaches a local date and time. */
function latestMomentMs(local: string): number {
  const wall = parseWallTime(local);
  return wall ? Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute) + 12 * 3600_000 : Infinity;
}

// Firestore reserves ids of the form __x__; the pattern already rules out "/", "." and "..".
const messageIdSchema = z
  .string({ error: "must be a string" })
  .min(1, "must not be empty")
  .max(128)
  .regex(/^[A-Za-z0-9_-]+$/, "is not a message id")
  .refine((id) => !/^__.*__$/.test(id), "is not a message id (ids of the form __x__ are reserved)");
const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,128}$/, "must be 1–128 visible ASCII characters");

export const sendMessageInput = z
  .strictObject({
    title: z.string({ error: "must be a string" }).min(1, "must not be empty").max(LIMITS.titleMax, `must be at most ${LIMITS.titleMax} characters`),
    body: z.string({ error: "must be a string" }).min(1, "must not be empty").max(LIMITS.bodyMax, `must be at most ${LIMITS.bodyMax} characters`),
    data: z
      .record(z.string().min(1).max(256), z.string().max(4096), { error: "must map strings to strings" })
      .refine((value) => !("messageId" in value) && !("link" in value) && !("badge" in value), "must not use the reserved keys messageId, link or badge")
      .optional(),
    link: z.string().min(1).max(2048, "must be at most 2048 characters").optional(),
    imageUrl: z.url({ error: "must be an absolute URL" }).max(2048, "must be at most 2048 characters").optional(),
    sound: z.string().min(1).max(256).optional(),
    badge: z.union([z.literal("increment"), z.number().int().min(0).max(99999)], { error: "must be \"increment\" or a whole number from 0 to 99999" }).optional(),
    collapseKey: z.string().min(1).max(64, "must be at most 64 characters").optional(),
    ttlSeconds: z.number().int("must be a whole number").min(0).max(MAX_TTL_SECONDS, `must be at most ${MAX_TTL_SECONDS} (28 days)`).optional(),
    priority: z.enum(["normal", "high"], { error: "must be \"normal\" or \"high\"" }).optional(),
    /** No notification block: FCM delivers `data` only and the app decides what to show (title and body are still required, for the record). */
    dataOnly: z.boolean({ error: "must be true or false" }).optional(),
    category: categorySchema.optional(),
    audience: audienceSchema,
    /** Per-user placeholder values: `{ [userId]: { name: value } }`. */
    vars: z
      .record(userIdSchema, varsOfUser)
      .refine((value) => Object.keys(value).length <= LIMITS.audienceListMax, `must hold at most ${LIMITS.audienceListMax} users`)
      .refine((value) => new TextEncoder().encode(JSON.stringify(value)).length <= LIMITS.varsMaxBytes, `must be at most ${LIMITS.varsMaxBytes / 1024} KiB in all (as JSON): they are stored on the message document`)
      .optional(),
    sendAt: z.iso
      .datetime({ offset: true, error: "must be an ISO 8601 date-time such as 2030-01-31T08:00:00Z" })
      .transform((value) => new Date(value))
      .refine((date) => date.getTime() <= Date.now() + LIMITS.sendAheadDays * 86_400_000, `must be at most ${LIMITS.sendAheadDays} days ahead`)
      .optional(),
    /** Delivery at this wall-clock time in each device's own time zone (sending/hours.ts). */
    sendAtLocal: z
      .string({ error: "must be a string" })
      .refine((value) => parseWallTime(value) !== undefined, "must be a local date and time YYYY-MM-DDTHH:MM, without an offset, such as 2030-01-31T08:00")
      .refine((value) => latestMomentMs(value) <= Date.now() + LIMITS.sendAheadDays * 86_400_000, `must be at most ${LIMITS.sendAheadDays} days ahead in every time zone (UTC-12 reaches it last)`)
      .optional(),
    urgency: z.enum(URGENCIES, { error: "must be \"normal\" or \"emergency\"" }).optional(),
    idempotencyKey: idempotencyKeySchema.optional(),
    /** The text in other languages (`{ "<BCP 47 tag>": { title, body } }`): each device gets the best match for its locale (docs/languages.md). */
    translations: translationsSchema.optional(),
    /** Machine-translate the text into every language of the audience the sender did not write (needs MACHINE_TRANSLATION on). */
    autoTranslate: z.boolean({ error: "must be true or false" }).optional(),
  })
  .superRefine((input, ctx) => {
    if (input.sendAt !== undefined && input.sendAtLocal !== undefined) {
      ctx.addIssue({ code: "custom", path: ["sendAtLocal"], message: "must not be given with sendAt: sendAt is one instant for everyone, sendAtLocal a time in each device's zone" });
    }
    for (const [tag, bytes] of Object.entries(largestPayloadBytesByText(input))) {
      if (bytes <= LIMITS.fcmPayloadBytes) continue;
      ctx.addIssue({
        code: "custom",
        path: tag === "" ? ["body"] : ["translations", tag, "body"],
        message: `the notification would exceed FCM's ${LIMITS.fcmPayloadBytes}-byte payload limit (multi-byte characters count in bytes); shorten the body, title or data`,
      });
      break;
    }
    const unfillable = unfillablePlaceholder(input);
    if (unfillable) ctx.addIssue({ code: "custom", path: unfillable.path, message: `uses {{${unfillable.name}}}, which neither the default text nor vars fill` });
  });
export type SendMessageInput = z.output<typeof sendMessageInput>;
/** The request as a client writes it (sendAt an ISO string, match optional). */
export type SendMessageRequest = Omit<z.input<typeof sendMessageInput>, "audience"> & { audience: AudienceRequest };


export const messageRefInput = z.strictObject({ messageId: messageIdSchema });

/** `getRecipientStatus`, `GET /v1/messages/{id}/devices/{deviceId}`: one device's outcome for one message. */
export const recipientLookupInput = z.strictObject({ messageId: messageIdSchema, deviceId: deviceIdSchema });

/** `estimateAudience`: how many devices sendMessage would write recipients for. */
/** `urgency: "emergency"` counts muted devices too: an emergency reaches them. */
export const estimateAudienceInput = z.strictObject({
  audience: audienceSchema,
  category: categorySchema.optional(),
  urgency: z.enum(URGENCIES, { error: "must be \"normal\" or \"emergency\"" }).optional(),
  /** Also sample the audience's languages (up to 200 device reads more): the console's compose screen asks for them. */
  languages: z.boolean({ error: "must be true or false" }).optional(),
});
export type EstimateAudienceRequest = Omit<z.input<typeof estimateAudienceInput>, "audience"> & { audience: AudienceRequest };
export interface EstimateAudienceResult {
  devices: number;
  /** When asked for (`languages: true`): the audience's languages (languages/report.ts: from a bounded sample of its devices). */
  languages?: z.infer<typeof audienceLanguages>;
}

/** `resendFailed`: a new message with the same content for the recipients of a finished message that failed. */
export const resendFailedInput = z.strictObject({ messageId: messageIdSchema, idempotencyKey: idempotencyKeySchema.optional() });
export type ResendFailedRequest = z.input<typeof resendFailedInput>;

/**
 * What sendMessage and resendFailed return. sendMessage returns before the
 * audience is expanded: `recipients` is null then (the message's
 * `recipientCount` is filled in once every recipient is written), and the
 * count for a repeat with the same idempotency key once it is known.
 */
export const sendResult = z.strictObject({ messageId: z.string(), recipients: z.number().int().nullable() });
export type SendResult = z.infer<typeof sendResult>;

/** `cancelMessage`, `POST /v1/messages/{id}/cancel`: how many recipients are now cancelled. */
export const cancelResult = z.strictObject({ messageId: z.string(), cancelled: z.number().int() });
export type CancelResult = z.infer<typeof cancelResult>;

const isoTime = z.iso.datetime();

/** The answer of getMessageReport and of `GET /v1/messages/{id}`. */
export const messageReport = z.strictObject({
  messageId: z.string(),
  state: z.enum(MESSAGE_STATES),
  /** All recipient documents; null while the audience is still being expanded (`preparing`). */
  recipients: z.number().int().nullable(),
  /** While `preparing`: recipients written so far; otherwise null. */
  prepared: z.number().int().nullable(),
  /** For a message document that failed validation (state `invalid`): the first failing field and why. Nothing was sent. */
  invalid: z.strictObject({ field: z.string(), message: z.string() }).nullable(),
  /** Recipients per status code (codes with none are left out). */
  counts: z.record(z.string().regex(/^-?\d+$/), z.number().int()),
  /** Recipients with a code not listed in `counts`' known set. */
  other: z.number().int(),
  /**
   * Devices whose app reported the notification arrived (`received`) and was
   * tapped (`opened`; an open counts as received too), as of the last tally:
   * up to RECEIPT_TALLY_SECONDS behind the acks.
   */
  receipts: z.strictObject({ received: z.number().int(), opened: z.number().int() }),
  createdAt: isoTime.nullable(),
  sendAt: isoTime.nullable(),
  cancelledAt: isoTime.nullable(),
  /**
   * Pending recipients waiting for their device's moment (sending/hours.ts): `localTime` for a `sendAtLocal`
   * not yet reached in their zone, `quietHours` for quiet hours to end; `until`: the last of those moments.
   */
  held: z.strictObject({
    localTime: z.strictObject({ devices: z.number().int(), until: isoTime.nullable() }),
    quietHours: z.strictObject({ devices: z.number().int(), until: isoTime.nullable() }),
  }),
  urgency: z.enum(URGENCIES),
  sendAtLocal: z.string().nullable(),
  /** Set while the emergency stop holds all delivery: why, since when, by whom. */
  paused: z.strictObject({ reason: z.string().nullable(), since: isoTime.nullable(), by: z.string().nullable() }).nullable(),
  /** Accepted devices per language of the text they got, and the machine translations made for the message. */
  languages: languagesReport,
});
export type MessageReport = z.infer<typeof messageReport>;

/** `getRecipientStatus`, `GET /v1/messages/{id}/devices/{deviceId}`: what happened to one device for one message. */
export const recipientOutcome = z.strictObject({
  messageId: z.string(),
  deviceId: z.string(),
  /** The recipient's id: its document's, or the one its page holds for it. */
  recipientId: z.string(),
  status: z.number().int(),
  statusMessage: z.string().nullable(),
  attempts: z.number().int(),
  sentAt: isoTime.nullable(),
  fcmMessageId: z.string().nullable(),
  /** Where the answer comes from: the recipient's own document, or its broadcast page. */
  recordedIn: z.enum(["recipient", "page"]),
  /** When the device's app reported the notification arrived, and was tapped (ackMessage); null when it did not (yet). */
  receivedAt: isoTime.nullable(),
  openedAt: isoTime.nullable(),
  /** A recipient still waiting for its device's local time or quiet hours to end: until when, and which. */
  heldUntil: isoTime.nullable(),
  heldFor: z.enum(["localTime", "quietHours"]).nullable(),
  /** The text the device got: a translation's tag, or "default" (the message's own); null when nothing was sent (or before languages were recorded). */
  language: z.string().nullable(),
});
export type RecipientOutcome = z.infer<typeof recipientOutcome>;

const hourMinuteSchema = z.string({ error: "must be a time HH:MM" }).refine((value) => parseHourMinute(value) !== undefined, "must be a 24-hour time HH:MM, such as 21:00");

/** A user's own quiet hours, in each of their devices' time zones; `start` = `end`: none at all, not even the site's. */
export const quietHoursSchema = z.strictObject({ start: hourMinuteSchema, end: hourMinuteSchema }, { error: "must be { start: \"HH:MM\", end: \"HH:MM\" } or null" });

/** `setPreferences`: each field given replaces the stored one; one left out stays as it is. */
export const setPreferencesInput = z
  .strictObject({
    mutedCategories: z
      .array(categorySchema)
      .max(LIMITS.mutedCategoriesMax, `must hold at most ${LIMITS.mutedCategoriesMax} categories`)
      .transform((list) => [...new Set(list)])
      .optional(),
    /** null: none of the user's own (the site's QUIET_HOURS apply). */
    quietHours: quietHoursSchema.nullable().optional(),
  })
  .refine((input) => input.mutedCategories !== undefined || input.quietHours !== undefined, { error: "must set mutedCategories, quietHours or both" });
export type SetPreferencesInput = z.output<typeof setPreferencesInput>;

