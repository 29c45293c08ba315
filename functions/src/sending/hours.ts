import { Timestamp } from "firebase-admin/firestore";
import type { DeviceDoc } from "../devices/schema";
import type { MessageDoc } from "../messages/schema";
import { DEFAULT_TIME_ZONE, QUIET_HOURS } from "../shared/params";
import { isTimeZone, parseHourMinute, parseWallTime, instantOf, windowEndAfter, type DailyWindow } from "../shared/zones";

/*
 * When a device may get a message: at once, or held until a moment of its own
 * — the message's `sendAtLocal` in the device's time zone, and then the end
 * of its user's quiet hours if that moment falls inside them. An emergency is
 * never held. A held recipient is written pending with `retryAt` at that
 * moment (the dispatch claims nothing before its retryAt, delivery/claim.ts)
 * and `heldUntil` / `heldFor`, which the report counts.
 */

export type HoldReason = "localTime" | "quietHours";

export interface Hold {
  untilMs: number;
  reason: HoldReason;
}

/** The quiet hours a device follows: its user's own (the copy on the device), else the site's; null: none. */
export interface HoursSettings {
  /** The site's default quiet hours (QUIET_HOURS); null when off. */
  siteQuietHours: DailyWindow | null;
  /** The zone of a device that reported none, or an unknown one (DEFAULT_TIME_ZONE). */
  defaultZone: string;
}

/** `HH:MM-HH:MM` (a param's form of quiet hours); null for an empty value, undefined if malformed. */
export function parseQuietHoursParam(text: string): DailyWindow | null | undefined {
  if (text.trim() === "") return null;
  const [start, end, ...rest] = text.split("-").map((part) => parseHourMinute(part.trim()));
  if (rest.length > 0 || start === undefined || end === undefined) return undefined;
  return { start, end };
}

/** The site's settings, from the params. A malformed QUIET_HOURS fails loudly: preflight refuses it before a deploy. */
export function hoursSettings(): HoursSettings {
  const siteQuietHours = parseQuietHoursParam(QUIET_HOURS.value());
  if (siteQuietHours === undefined) throw new Error(`QUIET_HOURS must be HH:MM-HH:MM or empty, not "${QUIET_HOURS.value()}"`);
  const zone = DEFAULT_TIME_ZONE.value();
  if (!isTimeZone(zone)) throw new Error(`DEFAULT_TIME_ZONE must be an IANA time zone, not "${DEFAULT_TIME_ZONE.value()}"`);
  return { siteQuietHours, defaultZone: zone };
}

/** A device's quiet hours as stored on it (`quietHours`: its user's choice), in minutes; undefined: the user has none of their own. */
function deviceQuietHours(device: DeviceDoc | undefined): DailyWindow | undefined {
  const stored = device?.quietHours;
  if (stored === undefined || stored === null) return undefined;
  const start = parseHourMinute(stored.start);
  const end = parseHourMinute(stored.end);
  return start === undefined || end === undefined ? undefined : { start, end };
}

/** True when this message may be held for some device: not an emergency, and local-time or quiet hours could apply. */
export function mayHold(message: Pick<MessageDoc, "urgency">): boolean {
  return message.urgency !== "emergency";
}

/**
 * Until when one device's delivery waits, from instant `nowMs`; undefined:
 * send now. `device` is the device document as the audience read it (its
 * `timezone`, and its copy of its user's quiet hours); a device without a
 * zone the tz database knows is in the site's default zone.
 */
export function holdOf(message: Pick<MessageDoc, "urgency" | "sendAtLocal">, device: DeviceDoc | undefined, settings: HoursSettings, nowMs: number): Hold | undefined {
  if (!mayHold(message)) return undefined;
  const zone = isTimeZone(device?.timezone) ? device.timezone : settings.defaultZone;
  let at = nowMs;
  let reason: HoldReason | undefined;
  if (message.sendAtLocal) {
    const wall = parseWallTime(message.sendAtLocal);
    const moment = wall ? instantOf(wall, zone) : nowMs;
    if (moment > at) {
      at = moment;
      reason = "localTime";
    }
  }
  const own = deviceQuietHours(device);
  const quiet = own === undefined ? settings.siteQuietHours : own;
  const quietEnd = quiet ? windowEndAfter(at, zone, quiet) : undefined;
  if (quietEnd !== undefined && quietEnd > at) {
    at = quietEnd;
    reason = "quietHours";
  }
  return reason === undefined ? undefined : { untilMs: at, reason };
}

/** The fields a held recipient is written with: not claimed before `retryAt`, and what the report counts. */
export function heldFields(hold: Hold): { retryAt: Timestamp; heldUntil: Timestamp; heldFor: HoldReason } {
  const at = Timestamp.fromMillis(hold.untilMs);
  return { retryAt: at, heldUntil: at, heldFor: hold.reason };
}
