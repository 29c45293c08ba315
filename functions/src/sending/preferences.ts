import { setPreferencesOf } from "../devices/mutes";
import type { SetPreferencesInput } from "./schema";

/**
 * Sets what the call gives of the user's preferences (the whole list of muted
 * categories, so the call is idempotent; the quiet hours, or null for the
 * site's), on the preferences and on every device of the user; answers them
 * as stored: `quietHours` once the user has chosen (null: the site's
 * QUIET_HOURS apply), left out for a user who never did.
 */
export async function setPreferences(uid: string, input: SetPreferencesInput): Promise<{ mutedCategories: string[]; quietHours?: { start: string; end: string } | null }> {
  const { preferences } = await setPreferencesOf(uid, input);
  return { mutedCategories: preferences.mutedCategories, ...(preferences.quietHours !== undefined && { quietHours: preferences.quietHours }) };
}
