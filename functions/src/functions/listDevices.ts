import { emptyInput } from "../devices/schema";
import { listDevices as list } from "../devices/service";
import { validatedOnCall } from "../shared/callable";
import { APP_CALLABLE } from "../shared/sizing";

export const listDevices = validatedOnCall(emptyInput, (_data, caller) => list(caller.uid), { ...APP_CALLABLE, appCheck: true });
