import { onDocumentCreated } from "firebase-functions/v2/firestore";
import { startExpansion } from "../sending/expansion";
import { MESSAGE_TRIGGER } from "../shared/sizing";

/**
 * Every new message document with an `audience` (from sendMessage, the API, or
 * written directly) is validated and its audience expanded in the background;
 * one without (recipients written by a job, Moodle pushes) is left alone.
 */
export const onMessageCreated = onDocumentCreated({ document: "messages/{messageId}", ...MESSAGE_TRIGGER }, async (event) => {
  await startExpansion(event.params.messageId, event.data?.data());
});
