import { Timestamp, type DocumentReference, type Transaction } from "firebase-admin/firestore";
import { z } from "zod";
import { APP_TENANT, COLLECTIONS } from "../shared/contract";
import { db } from "../shared/firestore";
import { runTransaction } from "../shared/transaction";

/**
 * Mutes. An app user's muted categories are kept in `preferences/{uid}` (the
 * user reads them there) and copied onto each of the user's devices as
 * `mutedCategories`, so that what sends to devices decides from the device
 * document it reads anyway, and an estimate counts muted devices with one
 * `array-contains` aggregation, however many users muted. Only the apps' own
 * users (tenant "app") have preferences. A device written before the copy
 * existed has no `mutedCategories`: its user's preferences are read instead,
 * until `npm run ops -- migrate-mutes` (ops/mutes.ts) gives it the copy.
 */

/** A user's quiet hours as stored: `HH:MM` each, in their devices' time zones. */
export const storedQuietHours = z.object({ start: z.string(), end: z.string() });
export type QuietHours = z.infer<typeof storedQuietHours>;

/**
 * `preferences/{uid}` as stored: an app user's own settings. `quietHours`:
 * the user's own (start = end: none at all); null or absent: the site's
 * QUIET_HOURS apply.
 */
export const preferencesDoc = z.object({ mutedCategories: z.array(z.string()).default([]), quietHours: storedQuietHours.nullable().optional() });
export type Preferences = z.infer<typeof preferencesDoc>;

export function preferencesRef(uid: string): DocumentReference {
  return db().collection(COLLECTIONS.preferences).doc(uid);
}

/** Inside the caller's transaction (before its writes): an app user's preferences (no mutes, no choice of quiet hours when none). */
export async function readPreferences(tx: Transaction, uid: string): Promise<Preferences> {
  const parsed = preferencesDoc.safeParse((await tx.get(preferencesRef(uid))).data() ?? {});
  return parsed.success ? parsed.data : { mutedCategories: [] };
}

/** What a device copies from its user's preferences (what sends decide from): the mutes, and the quiet hours if the user chose. */
export function preferencesCopy(preferences: Preferences): { mutedCategories: string[]; quietHours?: QuietHours | null } {
  return { mutedCategories: preferences.mutedCategories, ...(preferences.quietHours !== undefined && { quietHours: preferences.quietHours }) };
}

/** A device's copy of its user's mutes as read from its document; undefined on a device written before the copy. */
export function mutesCopy(raw: unknown): string[] | undefined {
  return Array.isArray(raw) && raw.every((item) => typeof item === "string") ? raw : undefined;
}

export function sameMutes(copy: string[] | undefined, mutedCategories: string[]): boolean {
  return copy !== undefined && copy.length === mutedCategories.length && copy.every((category, i) => category === mutedCategories[i]);
}

/**
 * Sets an app user's muted categories: the preferences document and the copy
 * on every device of the user (retired ones too, which a re-registration
 * brings back), in one transaction. The devices are found by a query in that
 * transaction and registerDevice reads the preferences in its own, so a
 * device registered meanwhile ends with the new list either way. A user
 * holds at most DEVICES_PER_USER live devices (retired ones are deleted by
 * the sweep), far under a transaction's 500 writes. Returns how many
 * devices' copies changed.
 */
export async function setMutes(uid: string, mutedCategories: string[]): Promise<number> {
  return (await setPreferencesOf(uid, { mutedCategories })).changed;
}

/**
 * Sets what is given of an app user's preferences (the muted categories, the
 * quiet hours; what is left out stays), on the preferences document and on
 * the copy of every device of the user, as setMutes describes. Returns the
 * preferences now stored and how many devices' copies changed.
 */
export async function setPreferencesOf(uid: string, change: { mutedCategories?: string[]; quietHours?: QuietHours | null }): Promise<{ preferences: Preferences; changed: number }> {
  return runTransaction("setPreferences", async (tx) => {
    const [current, devices] = await Promise.all([readPreferences(tx, uid), tx.get(db().collection(COLLECTIONS.devices).where("userId", "==", uid))]);
    const preferences: Preferences = {
      mutedCategories: change.mutedCategories ?? current.mutedCategories,
      ...(change.quietHours !== undefined ? { quietHours: change.quietHours } : current.quietHours !== undefined && { quietHours: current.quietHours }),
    };
    tx.set(preferencesRef(uid), { ...preferences, updatedAt: Timestamp.now() }, { merge: true });
    const copy = preferencesCopy(preferences);
    // A uid shaped like a partner's stored user id names that partner's devices too: they have no preferences.
    const stale = devices.docs.filter(
      (doc) => (doc.get("tenant") ?? APP_TENANT) === APP_TENANT && !(sameMutes(mutesCopy(doc.get("mutedCategories")), copy.mutedCategories) && sameQuietHours(doc.get("quietHours"), copy.quietHours)),
    );
    for (const doc of stale) tx.update(doc.ref, copy);
    return { preferences, changed: stale.length };
  });
}

function sameQuietHours(stored: unknown, wanted: QuietHours | null | undefined): boolean {
  if (wanted === undefined || wanted === null) return stored === wanted;
  const parsed = storedQuietHours.safeParse(stored);
  return parsed.success && parsed.data.start === wanted.start && parsed.data.end === wanted.end;
}

/** The users among `userIds` (apps' users, by uid) whose preferences mute `category`: one batched read. */
async function mutedUsers(userIds: string[], category: string): Promise<Set<string>> {
  const unique = [...new Set(userIds)];
  const muted = new Set<string>();
  if (unique.length === 0) return muted;
  const snapshots = await db().getAll(...unique.map(preferencesRef));
  for (const snapshot of snapshots) {
    const parsed = preferencesDoc.safeParse(snapshot.data() ?? {});
    if (parsed.success && parsed.data.mutedCategories.includes(category)) muted.add(snapshot.id);
  }
  return muted;
}

/** An app user's device as read: its owner and its copy of the owner's mutes. */
export interface MutableDevice {
  userId: string;
  mutedCategories?: string[];
}

/**
 * Which of `devices` (app users' devices only) leave out `category`: decided
 * from each device's copy, without a read. Devices without a copy (written
 * before it existed) read their users' preferences instead, one batched read
 * of those users only; `reads` says how many.
 */
export async function mutedFilter(devices: MutableDevice[], category: string): Promise<{ isMuted: (device: MutableDevice) => boolean; reads: number }> {
  const uncopied = [...new Set(devices.filter((device) => device.mutedCategories === undefined).map((device) => device.userId))];
  const fallback = await mutedUsers(uncopied, category);
  const isMuted = (device: MutableDevice) => (device.mutedCategories === undefined ? fallback.has(device.userId) : device.mutedCategories.includes(category));
  return { isMuted, reads: uncopied.length };
}
