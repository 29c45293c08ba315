import { setMutes } from "../devices/mutes";

/** Replaces the user's muted categories (the whole list, so the call is idempotent), on the preferences and on every device of the user. */
export async function setPreferences(uid: string, mutedCategories: string[]): Promise<{ mutedCategories: string[] }> {
  await setMutes(uid, mutedCategories);
  return { mutedCategories };
}
