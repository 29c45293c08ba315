import { Timestamp } from "firebase-admin/firestore";
import { COLLECTIONS } from "../shared/contract";
import { db } from "../shared/firestore";
import { preferencesDoc } from "./schema";

/** The users among `userIds` who muted `category`: one batched read per page of the audience. */
export async function mutedUsers(userIds: string[], category: string): Promise<Set<string>> {
  const unique = [...new Set(userIds)];
  const muted = new Set<string>();
  if (unique.length === 0) return muted;
  const raw = db().collection(COLLECTIONS.preferences);
  const snapshots = await db().getAll(...unique.map((uid) => raw.doc(uid)));
  for (const snapshot of snapshots) {
    const parsed = preferencesDoc.safeParse(snapshot.data() ?? {});
    if (parsed.success && parsed.data.mutedCategories.includes(category)) muted.add(snapshot.id);
  }
  return muted;
}

/** Replaces the user's muted categories (the whole list, so the call is idempotent). */
export async function setPreferences(uid: string, mutedCategories: string[]): Promise<{ mutedCategories: string[] }> {
  await db().collection(COLLECTIONS.preferences).doc(uid).set({ mutedCategories, updatedAt: Timestamp.now() }, { merge: true });
  return { mutedCategories };
}
