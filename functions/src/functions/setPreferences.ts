import { validatedOnCall } from "../shared/callable";
import { setPreferences as set } from "../sending/preferences";
import { setPreferencesInput } from "../sending/schema";
import { APP_CALLABLE } from "../shared/sizing";

/** Any signed-in user: the notification categories they do not want, and their quiet hours. */
export const setPreferences = validatedOnCall(setPreferencesInput, (data, caller) => set(caller.uid, data), { ...APP_CALLABLE, appCheck: true });
