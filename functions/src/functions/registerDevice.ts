import { registerDeviceInput } from "../devices/schema";
import { appOwner } from "../devices/owner";
import { registerDevice as register } from "../devices/service";
import { validatedOnCall } from "../shared/callable";
import { APP_CALLABLE } from "../shared/sizing";

export const registerDevice = validatedOnCall(registerDeviceInput, (data, caller) => register(appOwner(caller.uid), data), { ...APP_CALLABLE, appCheck: true });
