import { Timestamp } from "firebase-admin/firestore";
import { HttpsError } from "firebase-functions/v2/https";
import { devicesCollection } from "../devices/collection";
import { ackRateLimited } from "../guards/counters";
import { receiptsCollection, type ReceiptDoc } from "../messages/receipts";
import { findRecipient } from "../sending/lookup";
import { APP_TENANT } from "../shared/contract";
import { ACKS_PER_DEVICE_PER_MINUTE } from "../shared/params";
import { runTransaction } from "../shared/transaction";
import type { AckMessageInput, AckMessageResult } from "./schema";
import { enqueueTally } from "./tally";

/**
 * One receipt from the app of the device's owner: the notification arrived
 * (`received`) or was tapped (`opened`). Checked in order of cost, so what is
 * refused spends least: the device is the caller's (one read; another
 * user's is refused before it counts toward anything), the device is under
 * its rate (a read and a write), the device is a recipient of the message
 * (one to three reads: sending/lookup.ts, a page's device counts before its
 * outcome is stored, since a phone may ack faster than the page is
 * recorded). Then the device's receipt is read and only the missing time set,
 * in a transaction, so a repeat counts nothing (`counted: false`); an open
 * without an arrival sets both, as the phone must have received it. A
 * receipt that counts asks for its message's tally (receipts/tally.ts).
 */
export async function ackMessage(uid: string, input: AckMessageInput): Promise<AckMessageResult> {
  const { messageId, deviceId, event } = input;
  const device = (await devicesCollection().doc(deviceId).get()).data();
  if (!device) throw new HttpsError("not-found", "No device with this ID is registered.", { field: "deviceId" });
  if (device.userId !== uid || (device.tenant ?? APP_TENANT) !== APP_TENANT) throw new HttpsError("permission-denied", "This device belongs to another user.", { field: "deviceId" });

  const wait = await ackRateLimited(deviceId, ACKS_PER_DEVICE_PER_MINUTE.value());
  if (wait !== undefined) {
    const retryAfterSeconds = Math.ceil(wait);
    throw new HttpsError("resource-exhausted", `This device reported too many receipts this minute; try again in ${retryAfterSeconds} s.`, { field: "deviceId", retryAfterSeconds });
  }

  if (!(await findRecipient(messageId, deviceId))) {
    throw new HttpsError("not-found", "This device is not a recipient of this message.", { field: "messageId" });
  }

  const ref = receiptsCollection(messageId).doc(deviceId);
  const counted = await runTransaction("ackMessage", async (tx) => {
    const receipt = (await tx.get(ref)).data();
    if (event === "received" ? receipt?.receivedAt : receipt?.openedAt) return false;
    const now = Timestamp.now();
    const change: ReceiptDoc = { updatedAt: now };
    if (!receipt?.receivedAt) change.receivedAt = now;
    if (event === "opened") change.openedAt = now;
    tx.set(ref, change, { merge: true });
    return true;
  });
  if (counted) await enqueueTally(messageId);
  return { messageId, deviceId, event, counted };
}
