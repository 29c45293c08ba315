import { ackMessage as ack } from "../receipts/ack";
import { ackMessageInput } from "../receipts/schema";
import { validatedOnCall } from "../shared/callable";
import { APP_CALLABLE } from "../shared/sizing";

/** The device's owner: a notification arrived on the device, or was tapped (docs/apps.md, "Receipts"). */
export const ackMessage = validatedOnCall(ackMessageInput, (data, caller) => ack(caller.uid, data), { ...APP_CALLABLE, appCheck: true });
