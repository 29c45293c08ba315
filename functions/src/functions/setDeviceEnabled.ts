import { setDeviceEnabledInput } from "../devices/schema";
import { setDeviceEnabled as setEnabled } from "../devices/service";
import { validatedOnCall } from "../shared/callable";

export const setDeviceEnabled = validatedOnCall(setDeviceEnabledInput, (data, caller) => setEnabled(caller.uid, data.deviceId, data.enabled));
