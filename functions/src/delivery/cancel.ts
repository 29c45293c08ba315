import { FieldPath, type DocumentData } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { recipientsCollection } from "../messages/collection";
import { outcomeWrites } from "../ops/metrics";
import { STATUS } from "../shared/contract";
import { commitFenced } from "../shared/fenced";
import { SHARDS } from "../shared/params";
import { shardOf, type ShardRange } from "./shards";

const PAGE = 500;
/** Rounds of re-reading before giving up on recipients that keep changing under us; dispatch finishes any left. */
const MAX_ROUNDS = 50;

/**
 * Moves the message's pending (-1) recipients to cancelled (-3), page by page.
 * Each update is a compare-and-set on the update time the query read (as the
 * dispatch's claims are), so a recipient claimed meanwhile (-2, in flight) or
 * already sent is never touched: only -1 → -3. Returns how many it moved.
 */
export async function cancelPending(messageId: string, range?: ShardRange): Promise<number> {
  const shards = SHARDS.value();
  let moved = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    let query = recipientsCollection(messageId).where("status", "==", STATUS.pending).orderBy(FieldPath.documentId());
    if (range?.from !== undefined) query = query.where(FieldPath.documentId(), ">=", range.from);
    if (range?.to !== undefined) query = query.where(FieldPath.documentId(), "<", range.to);
    const snapshot = await query.limit(PAGE).get();
    if (snapshot.empty) return moved;
    const update: DocumentData = { status: STATUS.cancelled, statusMessage: "cancelled by the sender", leaseExpiresAt: null, retryAt: null };
    const { landed } = await commitFenced(
      snapshot.docs.map((doc) => ({ ref: doc.ref, data: update, lastUpdateTime: doc.updateTime, tag: shardOf(doc.id, shards) })),
      (chunk) => outcomeWrites(messageId, Array<number>(chunk.length).fill(STATUS.cancelled)),
      { messageId, action: "cancel" },
    );
    moved += landed.length;
  }
  logger.warn("cancel: recipients still pending after many rounds; dispatch will cancel them", { messageId });
  return moved;
}
