import { onDocumentCreated } from "firebase-functions/v2/firestore";
import { startExpansion } from "../sending/expansion";
import { MESSAGE_TRIGGER } from "../shared/sizing";
import { watchIfSubscribed } from "../webhooks/watch";

/**
 * Every new message document with an `audience` (from sendMessage, the API, or
 * written directly) is validated and its audience expanded in the background;
 * one without (recipients written by a job, Moodle pushes) is left alone. A
 * key's message is watched for its webhooks, if the key has any.
 */
export const onMessageCreated = onDocumentCreated({ document: "messages/{messageId}", ...MESSAGE_TRIGGER }, async (event) => {
  await startExpansion(event.params.messageId, event.data?.data());
  await watchIfSubscribed(event.params.messageId, event.data?.data());
});
