import { deviceRefInput } from "../devices/schema";
import { resetBadge as reset } from "../devices/service";
import { validatedOnCall } from "../shared/callable";
import { APP_CALLABLE } from "../shared/sizing";

export const resetBadge = validatedOnCall(deviceRefInput, (data, caller) => reset(caller.uid, data.deviceId), { ...APP_CALLABLE, appCheck: true });
