import { setGlobalOptions } from "firebase-functions/v2";
import { RUNTIME_SERVICE_ACCOUNT } from "./shared/params";
import { REGION } from "./shared/region";

// Every function runs in one region, as one dedicated service account with only the roles docs/deploy.md lists.
setGlobalOptions({ region: REGION, serviceAccount: RUNTIME_SERVICE_ACCOUNT });

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
export { getRecipientStatus } from "./functions/getRecipientStatus";
export { setPreferences } from "./functions/setPreferences";
export { setUserAttributes } from "./functions/setUserAttributes";
export { estimateAudience } from "./functions/estimateAudience";
export { resendFailed } from "./functions/resendFailed";
export { api } from "./functions/api";
export { sweep } from "./functions/sweep";
export { fcmProbe } from "./functions/fcmProbe";
export { setDeliveryPaused } from "./functions/setDeliveryPaused";
export { getDeliveryStatus } from "./functions/getDeliveryStatus";
export { getDeliveryStats } from "./functions/getDeliveryStats";
export { resumeDelivery } from "./functions/resumeDelivery";
export { airnotifier } from "./functions/airnotifier";
export { ackMessage } from "./functions/ackMessage";
export { tallyReceipts } from "./functions/tallyReceipts";
export { listRecipientsByReceipt } from "./functions/listRecipientsByReceipt";
export { deliverWebhook } from "./functions/deliverWebhook";
export { watchWebhookMessage } from "./functions/watchWebhookMessage";
