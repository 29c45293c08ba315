import { z } from "zod";
import { COLLECTIONS } from "../shared/contract";
import { db } from "../shared/firestore";

/** `preferences/{uid}` as stored: an app user's own settings. */
export const preferencesDoc = z.object({ mutedCategories: z.array(z.string()).default([]) });

/** The users among `userIds` (apps' users, by uid) who muted `category`: one batched read. */
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
