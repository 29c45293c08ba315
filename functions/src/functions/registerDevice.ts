import { registerDeviceInput } from "../devices/schema";
import { registerDevice as register } from "../devices/service";
import { validatedOnCall } from "../shared/callable";

export const registerDevice = validatedOnCall(registerDeviceInput, (data, caller) => register(caller.uid, data));
