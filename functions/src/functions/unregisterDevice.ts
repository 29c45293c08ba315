import { deviceRefInput } from "../devices/schema";
import { unregisterDevice as unregister } from "../devices/service";
import { validatedOnCall } from "../shared/callable";
import { APP_CALLABLE } from "../shared/sizing";

export const unregisterDevice = validatedOnCall(deviceRefInput, (data, caller) => unregister(caller.uid, data.deviceId), { ...APP_CALLABLE, appCheck: true });
