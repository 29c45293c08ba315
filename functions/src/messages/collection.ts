import { COLLECTIONS } from "../shared/contract";
import { db, typedCollection } from "../shared/firestore";
import { messageDoc, recipientDoc } from "./schema";

export function messageRef(messageId: string) {
  return db().collection(COLLECTIONS.messages).doc(messageId);
}

export function messagesCollection() {
  return typedCollection(COLLECTIONS.messages, messageDoc);
}

export function recipientsCollection(messageId: string) {
  return typedCollection(`${COLLECTIONS.messages}/${messageId}/${COLLECTIONS.recipients}`, recipientDoc);
}
