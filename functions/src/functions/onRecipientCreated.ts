import { onDocumentCreated } from "firebase-functions/v2/firestore";
import { onNewRecipient } from "../delivery/trigger";
import { RECIPIENT_TRIGGER } from "../shared/sizing";

/**
 * Every new recipient document, however it was written, is picked up for
 * delivery; the first of a window is sent by this trigger itself (a batch, so
 * the task function's memory and time limit).
 */
export const onRecipientCreated = onDocumentCreated({ document: "messages/{messageId}/recipients/{recipientId}", ...RECIPIENT_TRIGGER }, async (event) => {
  await onNewRecipient(event.params.messageId, event.params.recipientId, event.data?.get("status"), event.time);
});
