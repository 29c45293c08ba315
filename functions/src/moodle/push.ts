import { buildFcmMessage, payloadBytes, placeholderNames, RecipientError } from "../fcm/build";
import type { MessageDoc } from "../messages/schema";
import { LIMITS, PLATFORMS } from "../shared/contract";
import type { PushRequest } from "./wire";

/**
 * An E3 push as a message, the way AirNotifier's Moodle hook makes it:
 * title = `extra.sitefullname` (or "Notification"), body = `extra.smallmessage`,
 * FCM data = every `extra` field as a string, plus the routing keys the Moodle
 * app reads (`notif`, `moodlecomponent`, `siteurl`). An encrypted push
 * (`extra.encrypted` true) is data-only: the app decrypts and shows it itself.
 *
 * Moodle never learns of a refusal (it ignores E3's answer), so nothing here
 * refuses for length: text is shortened with an ellipsis to the message
 * limits, and to FCM's 4096-byte payload on every platform.
 */
export interface PushMessage {
  message: Pick<MessageDoc, "title" | "body" | "data" | "dataOnly" | "priority">;
  /** Recipient vars that leave any literal `{{name}}` in the text as it is (placeholders are ours, not Moodle's). */
  vars: Record<string, string>;
}

const DEFAULT_TITLE = "Notification";
const ELLIPSIS = "…";

/** Fields Moodle seals (base64 ciphertext) in an encrypted push: cutting one breaks it, so they are only ever dropped. */
const SEALED = new Set(["userfromfullname", "userfromid", "sitefullname", "smallmessage", "subject", "contexturl"]);

/** Plain text that can be shortened with an ellipsis when the payload is too large (the longest goes first). */
const TEXT = new Set(["smallmessage", "subject", "fullmessage", "fullmessagehtml", "sitefullname", "siteshortname", "userfromfullname"]);

/** What the app needs to route a tap and to know the site: never dropped. */
const ESSENTIAL = new Set(["notif", "moodlecomponent", "siteurl", "site", "encrypted", "component", "name", "notification", "usertoid", "processor"]);

/** FCM refuses these as data keys. */
const RESERVED_KEY = /^(from|message_type|notification_type|collapse_key)$|^(google|gcm)/i;

/** A value as AirNotifier put it in FCM data: booleans "1"/"0", numbers as written, objects as JSON; null or absent → nothing. */
export function dataValue(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "boolean") return value ? "1" : "0";
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  return JSON.stringify(value);
}

/** Shortens to at most `max` UTF-16 units (what the zod limits count), ending with an ellipsis, never splitting a surrogate pair. */
export function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= ELLIPSIS.length) return ELLIPSIS.slice(0, Math.max(0, max));
  let cut = text.slice(0, max - ELLIPSIS.length);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut.trimEnd()}${ELLIPSIS}`;
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

export function pushMessage(push: PushRequest): PushMessage {
  const extra = push.extra;
  const encrypted = extra.encrypted === true || extra.encrypted === 1 || extra.encrypted === "1" || extra.encrypted === "true";
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(extra)) {
    const string = dataValue(value);
    if (string !== undefined && !RESERVED_KEY.test(key)) data[key] = string;
  }
  const notif = dataValue(extra.notification);
  if (notif !== undefined) data.notif = notif;
  const component = dataValue(extra.component);
  if (component !== undefined) data.moodlecomponent = component;
  const siteurl = dataValue(extra.wwwroot);
  if (siteurl !== undefined) data.siteurl = siteurl;
  if (encrypted) data.encrypted = "1";

  // Sealed text is ciphertext: the record keeps the site's short name and a neutral body instead.
  const title = encrypted ? (text(extra.siteshortname) ?? DEFAULT_TITLE) : (text(extra.sitefullname) ?? DEFAULT_TITLE);
  const body = encrypted ? "Encrypted notification" : (text(extra.smallmessage) ?? text(extra.subject) ?? DEFAULT_TITLE);
  const message: PushMessage["message"] = {
    title: shorten(title, LIMITS.titleMax),
    body: shorten(body, LIMITS.bodyMax),
    data,
    priority: "high",
    ...(encrypted && { dataOnly: true }),
  };
  const vars = Object.fromEntries([...placeholderNames(`${message.title}\n${message.body}`)].map((name) => [name, `{{${name}}}`]));
  fitPayload(message, vars, encrypted);
  return { message, vars };
}

/** Ids as long as any the message and recipient can get, so the size holds for the real ones. */
const SIZING_IDS = { messageId: "m".repeat(40), recipientId: "r".repeat(22) };

/** The largest FCM payload the message makes on any platform, with the longest token-independent fields. */
function largestPayload(message: PushMessage["message"], vars: Record<string, string>): number {
  let largest = 0;
  for (const platform of PLATFORMS) {
    try {
      largest = Math.max(largest, payloadBytes(buildFcmMessage({ ...SIZING_IDS, message, token: "t", platform, vars })));
    } catch (err) {
      if (!(err instanceof RecipientError)) throw err;
      // buildFcmMessage refuses an oversized payload; its own message says by how much, but any excess will do here.
      const bytes = /(\d+) bytes/.exec(err.message)?.[1];
      largest = Math.max(largest, bytes ? Number(bytes) : LIMITS.fcmPayloadBytes + 1);
    }
  }
  return largest;
}

/**
 * Brings the payload under FCM's limit by cutting the largest thing that may
 * be cut: plain text is shortened by the excess (each UTF-16 unit removed
 * saves at least one byte), anything else — sealed ciphertext, URLs, JSON —
 * is dropped whole, the fields the app routes by last of all.
 */
function fitPayload(message: PushMessage["message"], vars: Record<string, string>, encrypted: boolean): void {
  const data = message.data as Record<string, string>;
  for (let round = 0; round < 100; round++) {
    const excess = largestPayload(message, vars) - LIMITS.fcmPayloadBytes;
    if (excess <= 0) return;
    const cuttable = Object.keys(data).filter((key) => !ESSENTIAL.has(key));
    const candidates: Array<{ size: number; cut: () => void }> = cuttable.map((key) => {
      const value = data[key] as string;
      const shortenable = TEXT.has(key) && !(encrypted && SEALED.has(key)) && value.length > 16;
      return {
        size: Buffer.byteLength(value),
        cut: shortenable ? () => (data[key] = shorten(value, value.length - excess - ELLIPSIS.length)) : () => delete data[key],
      };
    });
    if (!message.dataOnly && message.body.length > 16) {
      const body = message.body;
      // The body is sent twice on iOS and the web (notification and platform block): it counts double, and each
      // UTF-16 unit cut from it saves at least two bytes there, so half the excess is cut (the loop goes on if more is needed).
      candidates.push({ size: 2 * Buffer.byteLength(body), cut: () => (message.body = shorten(body, Math.max(1, body.length - Math.ceil(excess / 2) - ELLIPSIS.length))) });
    }
    if (candidates.length === 0) {
      // Only the routing fields are left; drop them too, largest first, rather than fail the push.
      const key = Object.keys(data).sort((a, b) => (data[b] as string).length - (data[a] as string).length)[0];
      if (key === undefined) return;
      delete data[key];
      continue;
    }
    candidates.sort((a, b) => b.size - a.size);
    candidates[0]?.cut();
  }
}
