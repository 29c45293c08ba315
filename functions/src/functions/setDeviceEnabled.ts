import { setDeviceEnabledInput } from "../devices/schema";
import { setDeviceEnabled as setEnabled } from "../devices/service";
import { validatedOnCall } from "../shared/callable";
import { APP_CALLABLE } from "../shared/sizing";

export const setDeviceEnabled = validatedOnCall(setDeviceEnabledInput, (data, caller) => setEnabled(caller.uid, data.deviceId, data.enabled), { ...APP_CALLABLE, appCheck: true });
