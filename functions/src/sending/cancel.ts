import { Timestamp } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { cancelPending } from "../delivery/cancel";
import { messagesCollection } from "../messages/collection";
import { readFinalCounts } from "../messages/counters";
import { STATUS } from "../shared/contract";
import { runTransaction } from "../shared/transaction";
import type { CancelResult } from "./schema";
import { assertMayManage, type Sender } from "./sender";

/**
 * Cancels a message: marks it `cancelledAt` (so no dispatch task claims any
 * more of it), then cancels what is pending. Recipients in flight (-2) when
 * the cancel lands are let finish: their batch is already at FCM. Running it
 * twice is harmless.
 */
export async function cancelMessage(sender: Sender, messageId: string): Promise<CancelResult> {
  const ref = messagesCollection().doc(messageId);
  await runTransaction("cancelMessage", async (tx) => {
    const message = (await tx.get(ref)).data();
    assertMayManage(sender, message);
    if (!message.cancelledAt) tx.update(ref, { cancelledAt: Timestamp.now() });
  });
  const moved = await cancelPending(messageId);
  // Dispatch tasks that see `cancelledAt` cancel what is pending in their shard too, racing this
  // pass: the answer is every recipient now cancelled, from the counters, not only those moved here.
  const cancelled = (await readFinalCounts(messageId))[String(STATUS.cancelled)] ?? 0;
  logger.info("cancel: message cancelled", { messageId, cancelled, movedHere: moved });
  return { messageId, cancelled };
}
