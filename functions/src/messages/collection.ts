import { COLLECTIONS } from "../shared/contract";
import { db, typedCollection } from "../shared/firestore";
import { expansionPartDoc, messageDoc, messageStateFields, pageDoc, recipientDoc } from "./schema";

export function messageRef(messageId: string) {
  return db().collection(COLLECTIONS.messages).doc(messageId);
}

export function messagesCollection() {
  return typedCollection(COLLECTIONS.messages, messageDoc);
}

/** Messages read for their state only (reports): content that fails the full schema does not stop them. */
export function messageStates() {
  return typedCollection(COLLECTIONS.messages, messageStateFields);
}

export function recipientsCollection(messageId: string) {
  return typedCollection(`${COLLECTIONS.messages}/${messageId}/${COLLECTIONS.recipients}`, recipientDoc);
}

export function expansionParts(messageId: string) {
  return typedCollection(`${COLLECTIONS.messages}/${messageId}/${COLLECTIONS.expansion}`, expansionPartDoc);
}

export function pagesCollection(messageId: string) {
  return typedCollection(`${COLLECTIONS.messages}/${messageId}/${COLLECTIONS.pages}`, pageDoc);
}
