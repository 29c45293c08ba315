import { setGlobalOptions } from "firebase-functions/v2";

setGlobalOptions({ region: "us-central1" });

export { registerDevice } from "./functions/registerDevice";
export { unregisterDevice } from "./functions/unregisterDevice";
export { setDeviceEnabled } from "./functions/setDeviceEnabled";
export { listDevices } from "./functions/listDevices";
export { resetBadge } from "./functions/resetBadge";
export { onRecipientCreated } from "./functions/onRecipientCreated";
export { dispatchBatch } from "./functions/dispatchBatch";
export { sendMessage } from "./functions/sendMessage";
export { onMessageCreated } from "./functions/onMessageCreated";
export { expandAudience } from "./functions/expandAudience";
export { recordPage } from "./functions/recordPage";
export { cancelMessage } from "./functions/cancelMessage";
export { getMessageReport } from "./functions/getMessageReport";
export { setPreferences } from "./functions/setPreferences";
export { estimateAudience } from "./functions/estimateAudience";
export { resendFailed } from "./functions/resendFailed";
export { api } from "./functions/api";
export { sweep } from "./functions/sweep";
export { setDeliveryPaused } from "./functions/setDeliveryPaused";
export { getDeliveryStatus } from "./functions/getDeliveryStatus";
export { getDeliveryStats } from "./functions/getDeliveryStats";
export { resumeDelivery } from "./functions/resumeDelivery";
export { airnotifier } from "./functions/airnotifier";
