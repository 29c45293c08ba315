import type { Message } from "firebase-admin/messaging";
import type { Platform } from "../shared/contract";
import type { MessageDoc } from "../messages/schema";
import { PLACEHOLDER, textFor } from "../languages/tags";

/*
 * The FCM message of one recipient, as pure computation (no Node built-ins, no
 * server SDK at run time): the functions send it, and the staff console and
 * sendMessage's validation size it with the very same code.
 */

const utf8 = new TextEncoder();

export class RecipientError extends Error {}

export interface BuildInput {
  messageId: string;
  recipientId: string;
  message: MessageDoc;
  token: string;
  platform: Platform;
  vars: Record<string, string | number | boolean>;
  /** The badge to show, when the message sets or increments one. */
  badge?: number;
  /** The device's `locale`: picks the message's translation it gets (languages/tags.ts). */
  locale?: string | null;
}

/** A build input with the collapse id already worked out (see build.ts). */
export interface PayloadInput extends BuildInput {
  collapseId: string;
}

export { placeholderNamesOf as placeholderNames } from "../languages/tags";

/** Fills `{{name}}` from the recipient's vars; an unknown name is an error for this recipient, never a silent blank. */
export function fillPlaceholders(text: string, vars: Record<string, string | number | boolean>, field: string): string {
  return text.replace(PLACEHOLDER, (_match, name: string) => {
    if (!Object.prototype.hasOwnProperty.call(vars, name)) {
      throw new RecipientError(`unknown placeholder {{${name}}} in ${field}: the recipient has no var "${name}"`);
    }
    return String(vars[name]);
  });
}

/** The size FCM's 4096-byte limit applies to: the message without its target. */
export function payloadBytes(message: Message): number {
  const { token: _token, ...rest } = message as Message & { token?: string };
  return utf8.encode(JSON.stringify(rest)).length;
}

/** What FCM accepts as an analytics label. */
const ANALYTICS_LABEL = /^[a-zA-Z0-9\-_.~%]{1,50}$/;

/**
 * The message's label in Firebase's delivery data (FCM's aggregated
 * delivery reports and BigQuery export), so that their figures line up with
 * ours message by message: the message id itself, which every id our
 * functions make fits (20 letters and digits, or 40 hex digits). An id a job
 * chose outside FCM's alphabet or length is shortened and suffixed with a
 * hash of the whole (FNV-1a: pure, this module runs in browsers too).
 */
export function analyticsLabelOf(messageId: string): string {
  if (ANALYTICS_LABEL.test(messageId)) return messageId;
  let hash = 0x811c9dc5;
  for (const char of messageId) hash = Math.imul(hash ^ (char.codePointAt(0) ?? 0), 0x01000193) >>> 0;
  return `${messageId.replace(/[^a-zA-Z0-9\-_.~]/g, "").slice(0, 41)}-${hash.toString(16).padStart(8, "0")}`;
}

/** One FCM message for one recipient, with the block of the device's platform; its size is the caller's to check. */
export function buildFcmPayload(input: PayloadInput): Message {
  const { message, collapseId } = input;
  const data: Record<string, string> = { ...message.data, messageId: input.messageId };
  if (message.link) data.link = message.link;
  if (input.badge !== undefined) data.badge = String(input.badge);
  // An emergency is high priority on every platform, whatever `priority` says; its app learns it from data.urgency.
  const emergency = message.urgency === "emergency";
  if (emergency) data.urgency = "emergency";
  const high = emergency ? true : message.priority === undefined ? undefined : message.priority === "high";
  const fcm = message.dataOnly ? dataOnlyMessage(input, data, collapseId, high) : notificationMessage(input, data, collapseId, high);
  // At the top level of the message (not a platform block), where FCM reads it for every platform.
  return { ...fcm, fcmOptions: { analyticsLabel: analyticsLabelOf(input.messageId) } };
}

/**
 * Data and routing only: no notification block, no Android notification, no
 * APNs alert, sound or badge, no Web Push notification. On iOS a push without
 * an alert must be a background push (content-available, push type
 * `background`, priority 5, as APNs requires), or APNs drops it.
 */
function dataOnlyMessage(input: BuildInput, data: Record<string, string>, collapseId: string, high: boolean | undefined): Message {
  const { message } = input;
  const fcm: Message = { token: input.token, data };
  if (input.platform === "android") {
    fcm.android = {
      collapseKey: collapseId,
      ...(high !== undefined && { priority: high ? "high" : "normal" }),
      ...(message.ttlSeconds !== undefined && { ttl: message.ttlSeconds * 1000 }),
    };
  } else if (input.platform === "ios") {
    const headers: Record<string, string> = { "apns-collapse-id": collapseId, "apns-push-type": "background", "apns-priority": "5" };
    if (message.ttlSeconds !== undefined) headers["apns-expiration"] = String(Math.floor(Date.now() / 1000) + message.ttlSeconds);
    fcm.apns = { headers, payload: { aps: { contentAvailable: true } } };
  } else {
    const headers: Record<string, string> = { Topic: collapseId.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 32) };
    if (high !== undefined) headers.Urgency = high ? "high" : "normal";
    if (message.ttlSeconds !== undefined) headers.TTL = String(message.ttlSeconds);
    fcm.webpush = { headers };
  }
  return fcm;
}

function notificationMessage(input: BuildInput, data: Record<string, string>, collapseId: string, high: boolean | undefined): Message {
  const { message, vars } = input;
  const text = textFor(message, input.locale);
  const title = fillPlaceholders(text.title, vars, "title");
  const body = fillPlaceholders(text.body, vars, "body");

  const fcm: Message = { token: input.token, notification: { title, body, ...(message.imageUrl && { imageUrl: message.imageUrl }) }, data };
  if (input.platform === "android") {
    fcm.android = {
      collapseKey: collapseId,
      ...(high !== undefined && { priority: high ? "high" : "normal" }),
      ...(message.ttlSeconds !== undefined && { ttl: message.ttlSeconds * 1000 }),
      notification: {
        tag: collapseId,
        ...(message.sound && { sound: message.sound }),
        ...(message.imageUrl && { imageUrl: message.imageUrl }),
        ...(input.badge !== undefined && { notificationCount: input.badge }),
        ...(message.titleLocKey && { titleLocKey: message.titleLocKey }),
        ...(message.titleLocArgs && { titleLocArgs: message.titleLocArgs }),
        ...(message.bodyLocKey && { bodyLocKey: message.bodyLocKey }),
        ...(message.bodyLocArgs && { bodyLocArgs: message.bodyLocArgs }),
      },
    };
  } else if (input.platform === "ios") {
    const alert = {
      title,
      body,
      ...(message.titleLocKey && { titleLocKey: message.titleLocKey }),
      ...(message.titleLocArgs && { titleLocArgs: message.titleLocArgs }),
      ...(message.bodyLocKey && { locKey: message.bodyLocKey }),
      ...(message.bodyLocArgs && { locArgs: message.bodyLocArgs }),
      ...(message.actionLocKey && { actionLocKey: message.actionLocKey }),
      ...(message.launchImage && { launchImage: message.launchImage }),
    };
    const headers: Record<string, string> = { "apns-collapse-id": collapseId };
    if (high !== undefined) headers["apns-priority"] = high ? "10" : "5";
    if (message.ttlSeconds !== undefined) headers["apns-expiration"] = String(Math.floor(Date.now() / 1000) + message.ttlSeconds);
    fcm.apns = {
      headers,
      payload: {
        aps: {
          alert,
          ...(message.sound && { sound: message.sound }),
          ...(input.badge !== undefined && { badge: input.badge }),
          // Every alert: the app's Notification Service Extension runs for it (an image to fetch, a "received" receipt to report).
          mutableContent: true,
          // An emergency breaks through Focus and scheduled summaries (the app needs the Time Sensitive Notifications capability).
          ...(message.urgency === "emergency" && { "interruption-level": "time-sensitive" }),
        },
      },
      ...(message.imageUrl && { fcmOptions: { imageUrl: message.imageUrl } }),
    };
  } else {
    const headers: Record<string, string> = { Topic: collapseId.replace(/[^A-Za-z0-9_-]/g, "").slice(0, 32) };
    if (high !== undefined) headers.Urgency = high ? "high" : "normal";
    if (message.ttlSeconds !== undefined) headers.TTL = String(message.ttlSeconds);
    fcm.webpush = {
      headers,
      notification: { title, body, ...(message.imageUrl && { image: message.imageUrl }) },
      ...(message.link?.startsWith("https://") && { fcmOptions: { link: message.link } }),
    };
  }
  return fcm;
}
