import { HttpsError } from "firebase-functions/v2/https";
/**
 * Who sends: a staff member through the callables (their uid) or a partner
 * server through the HTTPS API (`key:<keyId>`). Idempotency keys are scoped
 * to the sender; partner keys see only their own messages.
 */
export interface Sender {
  senderId: string;
  via: "callable" | "api";
  /**
   * A key's tenant: its audiences reach that tenant's users and devices only
   * (sending/audience.ts). Staff have none: every device, and the apps'
   * users by uid.
   */
  tenant?: string;
  /** May send `urgency: "emergency"`: staff with the `pushEmergency` claim, a key with the `messages:emergency` scope. */
  emergency?: boolean;
}

export function staffSender(uid: string, emergency = false): Sender {
  return { senderId: uid, via: "callable", ...(emergency && { emergency }) };
}

export function keySender(keyId: string, tenant: string, emergency = false): Sender {
  return { senderId: `key:${keyId}`, via: "api", tenant, ...(emergency && { emergency }) };
}

/** An emergency is only for senders given the right to send one; anyone else is refused, and nothing is written. */
export function assertMaySendUrgency(sender: Sender, urgency: string | undefined): void {
  if (urgency !== "emergency" || sender.emergency === true) return;
  const how = sender.via === "api" ? 'the key\'s "messages:emergency" scope' : "the pushEmergency claim, set by an administrator";
  throw new HttpsError("permission-denied", `An emergency message goes past quiet hours and mutes: it needs ${how}.`, { field: "urgency" });
}

/**
 * Staff (the `pushSender` claim) may see and cancel any message, as the rules
 * let them read every message; an access key only the messages it sent. A
 * message of another key is "not found", so an id says nothing about others.
 */
export function assertMayManage<M extends { senderId?: string | null }>(sender: Sender, message: M | undefined): asserts message is M {
  if (!message || (sender.via === "api" && message.senderId !== sender.senderId)) {
    throw new HttpsError("not-found", "No message with this id.", { field: "messageId" });
  }
}
