import { onDocumentCreated } from "firebase-functions/v2/firestore";
import { onNewRecipient } from "../delivery/trigger";

/** Every new recipient document, however it was written, is picked up for delivery. */
export const onRecipientCreated = onDocumentCreated("messages/{messageId}/recipients/{recipientId}", async (event) => {
  await onNewRecipient(event.params.messageId, event.params.recipientId, event.data?.get("status"));
});
