import type { Audience } from "./schema";

/*
 * How an audience is split into parts that parallel tasks expand into
 * recipients. Pure: the plan is recomputed from the message's `audience`
 * wherever it is needed (the trigger that starts the parts, each part task,
 * the last part that counts them), so a task carries only its part number.
 */

/**
 * Device ids are 8–128 of A–Z a–z 0–9 - _ (devices/input.ts): this is that
 * alphabet in byte order, which is Firestore's order of document ids. Range
 * boundaries are single characters of it, so a JavaScript comparison and
 * Firestore's agree whatever the id holds. Hashed or random device ids (what
 * apps send) spread evenly; ids sharing a prefix fall into one range.
 */
export const DEVICE_ID_ALPHABET = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

/** Firestore's limit on the values of one `in` filter: one `users` part per such chunk. */
export const USERS_PER_PART = 30;
/** Most ids one `devices` part reads with one getAll (a page). */
export const DEVICES_PER_PART = 500;

export type PartSpec =
  /** Devices with from ≤ id < to (either bound open), filtered by the audience's `where` if any. */
  | { kind: "range"; from?: string; to?: string }
  | { kind: "users"; users: string[] }
  | { kind: "devices"; devices: string[] };

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** `parts` ranges of device id covering every id, none overlapping. */
export function idRanges(parts: number): Array<{ from?: string; to?: string }> {
  const count = Math.max(1, Math.min(Math.floor(parts), DEVICE_ID_ALPHABET.length));
  const bounds: string[] = [];
  for (let i = 1; i < count; i++) bounds.push(DEVICE_ID_ALPHABET.charAt(Math.floor((i * DEVICE_ID_ALPHABET.length) / count)));
  return Array.from({ length: count }, (_, i) => ({
    ...(i > 0 && { from: bounds[i - 1] }),
    ...(i < count - 1 && { to: bounds[i] }),
  }));
}

/**
 * The parts of an audience: `all` and `where` over `parts` id ranges;
 * `users` one part per 30 users (one `in` query each); `devices` spread over
 * up to `parts` parts of at most 500 ids. Duplicates are dropped first, so a
 * device named twice is in one part only.
 */
export function planParts(audience: Audience, parts: number): PartSpec[] {
  if ("users" in audience) return chunks([...new Set(audience.users)], USERS_PER_PART).map((users) => ({ kind: "users", users }));
  if ("devices" in audience) {
    const devices = [...new Set(audience.devices)];
    const size = Math.min(DEVICES_PER_PART, Math.max(1, Math.ceil(devices.length / Math.max(1, parts))));
    return chunks(devices, size).map((list) => ({ kind: "devices", devices: list }));
  }
  return idRanges(parts).map((range) => ({ kind: "range", ...range }));
}
