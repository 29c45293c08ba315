import { emptyInput } from "../devices/schema";
import { listDevices as list } from "../devices/service";
import { validatedOnCall } from "../shared/callable";

export const listDevices = validatedOnCall(emptyInput, (_data, caller) => list(caller.uid));
