import { Timestamp } from "firebase-admin/firestore";
import { COLLECTIONS } from "../shared/contract";
import { db } from "../shared/firestore";

/** Replaces the user's muted categories (the whole list, so the call is idempotent). */
export async function setPreferences(uid: string, mutedCategories: string[]): Promise<{ mutedCategories: string[] }> {
  await db().collection(COLLECTIONS.preferences).doc(uid).set({ mutedCategories, updatedAt: Timestamp.now() }, { merge: true });
  return { mutedCategories };
}
