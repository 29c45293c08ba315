/*
 * Wall-clock time in IANA time zones, with the platform's own tz database
 * (Intl): no library, and the same answers in the functions and the console.
 * Pure computation.
 */

/** A wall-clock time: `YYYY-MM-DDTHH:MM` read as numbers. */
export interface WallTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** A cached formatter for `zone`; undefined when the zone is not one the tz database knows. */
function formatterOf(zone: string): Intl.DateTimeFormat | undefined {
  let formatter = formatters.get(zone);
  if (formatter) return formatter;
  try {
    formatter = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  } catch {
    return undefined;
  }
  if (formatters.size > 1000) formatters.clear();
  formatters.set(zone, formatter);
  return formatter;
}

/** True for an IANA time zone name the tz database knows (`Europe/Paris`, `UTC`). */
export function isTimeZone(zone: unknown): zone is string {
  return typeof zone === "string" && zone.length > 0 && zone.length <= 64 && formatterOf(zone) !== undefined;
}

/** The wall-clock time (and seconds) at instant `ms` in `zone`. */
export function wallTimeAt(ms: number, zone: string): WallTime & { second: number } {
  const formatter = formatterOf(zone);
  if (!formatter) throw new RangeError(`unknown time zone ${zone}`);
  const parts: Record<string, number> = {};
  for (const part of formatter.formatToParts(new Date(ms))) if (part.type !== "literal") parts[part.type] = Number(part.value);
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour!, minute: parts.minute!, second: parts.second! };
}

/** `zone`'s offset from UTC at instant `ms`, in ms (east positive). */
function offsetAt(ms: number, zone: string): number {
  const wall = wallTimeAt(ms, zone);
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant at which `zone`'s clocks show `wall`. A time that does not
 * exist there (skipped by a daylight-saving change) is the instant the
 * clocks jump past it, so it is never lost; a time that exists twice (the
 * hour repeated in autumn) is its first occurrence.
 */
export function instantOf(wall: WallTime, zone: string): number {
  const naive = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  // The offsets a few hours either side: the answer is naive minus one of them.
  const candidates = [...new Set([offsetAt(naive - 14 * 3600_000, zone), offsetAt(naive, zone), offsetAt(naive + 14 * 3600_000, zone)])]
    .map((offset) => naive - offset)
    .filter((ms) => sameWall(wallTimeAt(ms, zone), wall))
    .sort((a, b) => a - b);
  if (candidates[0] !== undefined) return candidates[0];
  // In a gap: the moment the clocks jump, found where the offset changes between the two readings.
  const before = naive - offsetAt(naive - 14 * 3600_000, zone);
  const after = naive - offsetAt(naive + 14 * 3600_000, zone);
  let low = Math.min(before, after);
  let high = Math.max(before, after);
  const startOffset = offsetAt(low, zone);
  while (high - low > 60_000) {
    const mid = low + Math.floor((high - low) / 2);
    if (offsetAt(mid, zone) === startOffset) low = mid;
    else high = mid;
  }
  return Math.ceil(high / 60_000) * 60_000;
}

function sameWall(a: WallTime, b: WallTime): boolean {
  return a.year === b.year && a.month === b.month && a.day === b.day && a.hour === b.hour && a.minute === b.minute;
}

const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;

/** `YYYY-MM-DDTHH:MM` (no offset, no seconds) as a wall time; undefined if malformed or not a real date and time. */
export function parseWallTime(text: string): WallTime | undefined {
  const match = LOCAL_TIME.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute] = match.slice(1).map(Number) as [number, number, number, number, number];
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || day < 1) return undefined;
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCMonth() !== month - 1) return undefined;
  return { year, month, day, hour, minute };
}

const HOUR_MINUTE = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** `HH:MM` (24-hour) as minutes after midnight; undefined if malformed. */
export function parseHourMinute(text: string): number | undefined {
  const match = HOUR_MINUTE.exec(text);
  return match ? Number(match[1]) * 60 + Number(match[2]) : undefined;
}

/** A daily window of wall-clock time, `start` to `end` (minutes after midnight), over midnight when end ≤ start. */
export interface DailyWindow {
  start: number;
  end: number;
}

/**
 * If instant `ms` falls inside `window` in `zone`: the instant the window
 * ends there (the next time the clocks show its end). Undefined outside it,
 * or for an empty window (start = end).
 */
export function windowEndAfter(ms: number, zone: string, window: DailyWindow): number | undefined {
  const { start, end } = window;
  if (start === end) return undefined;
  const wall = wallTimeAt(ms, zone);
  const now = wall.hour * 60 + wall.minute;
  const inside = start < end ? now >= start && now < end : now >= start || now < end;
  if (!inside) return undefined;
  // The end is today if it is still ahead on the clock, else tomorrow.
  const dayOffset = now < end ? 0 : 1;
  const day = new Date(Date.UTC(wall.year, wall.month - 1, wall.day + dayOffset));
  return instantOf({ year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate(), hour: Math.floor(end / 60), minute: end % 60 }, zone);
}
