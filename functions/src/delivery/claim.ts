import { FieldPath, GrpcStatus, Timestamp, type DocumentReference } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { describeZodError } from "../shared/callable";
import { COLLECTIONS, STATUS } from "../shared/contract";
import { db } from "../shared/firestore";
import { recipientDoc, type RecipientDoc } from "../messages/schema";
import type { ShardRange } from "./shards";

export interface ClaimedRecipient {
  id: string;
  ref: DocumentReference;
  data: RecipientDoc;
  /** Set when the document does not match the recipient schema (a job wrote it wrong): it is claimed only to be given a final status. */
  problem?: string;
  /** The attempt this claim starts (1 for a first send). */
  attempt: number;
  /** When the claim was written: the outcome is written only if the document is unchanged since. */
  claimedAt: Timestamp;
}

export interface Claim {
  claimed: ClaimedRecipient[];
  /** The page was full: more pending recipients may follow `lastId` in this shard. */
  full: boolean;
  lastId?: string;
  /** Earliest backoff among pending recipients passed over because they are not due yet. */
  nextRetryAt?: Timestamp;
  /** Some claims failed for another reason than a rival claim (contention, a timeout): those recipients are still pending. */
  contended: boolean;
  /** Documents read by the claim (for the benchmark's count). */
  reads: number;
}

/**
 * Claims up to `limit` pending (-1) recipients of one shard of a message:
 * `-1 → -2`, `attempts + 1`, a lease. Recipients still backing off (`retryAt`
 * in the future) are left for later.
 *
 * Each claim is a compare-and-set: the update carries the update time the
 * query read, so it lands only if nobody has changed the document since. Two
 * tasks (a task delivered twice, a retry racing a new batch) cannot both claim
 * one recipient, and no transaction holds locks over a whole page, which on a
 * busy message would serialise every shard behind one another.
 */
export async function claimBatch(messageId: string, range: ShardRange, after: string | undefined, limit: number, leaseSeconds: number): Promise<Claim> {
  // Read raw and parsed one by one: a malformed document (written directly) must end with a reason, not fail the whole query.
  let query = db().collection(`${COLLECTIONS.messages}/${messageId}/${COLLECTIONS.recipients}`).where("status", "==", STATUS.pending).orderBy(FieldPath.documentId());
  if (range.from !== undefined) query = query.where(FieldPath.documentId(), ">=", range.from);
  if (range.to !== undefined) query = query.where(FieldPath.documentId(), "<", range.to);
  if (after !== undefined) query = query.startAfter(after);
  const snapshot = await query.limit(limit).get();

  const now = Timestamp.now();
  const lease = Timestamp.fromMillis(now.toMillis() + leaseSeconds * 1000);
  const writer = db().bulkWriter();
  // A failed precondition means someone else got there first: not an error, just not ours.
  writer.onWriteError((error) => error.code !== GrpcStatus.FAILED_PRECONDITION && error.failedAttempts < 5);
  let nextRetryAt: Timestamp | undefined;
  const failures = new Map<string, number>();
  const attempts: Array<Promise<ClaimedRecipient | undefined>> = [];
  for (const doc of snapshot.docs) {
    const parsed = recipientDoc.safeParse(doc.data());
    let problem: string | undefined;
    if (!parsed.success) {
      const { field, message } = describeZodError(parsed.error);
      problem = `recipient document is invalid (${field || "document"}): ${message}`;
    }
    const data: RecipientDoc = parsed.success ? parsed.data : { deviceId: "", status: STATUS.pending, attempts: typeof doc.get("attempts") === "number" ? (doc.get("attempts") as number) : 0 };
    if (data.retryAt && data.retryAt.toMillis() > now.toMillis()) {
      if (!nextRetryAt || data.retryAt.toMillis() < nextRetryAt.toMillis()) nextRetryAt = data.retryAt;
      continue;
    }
    const attempt = (data.attempts ?? 0) + 1;
    attempts.push(
      writer
        .update(doc.ref, { status: STATUS.inProcess, attempts: attempt, leaseExpiresAt: lease }, { lastUpdateTime: doc.updateTime })
        .then(
          (result) => ({ id: doc.id, ref: doc.ref, data, attempt, claimedAt: result.writeTime, ...(problem !== undefined && { problem }) }),
          (err: { code?: number; message?: string }) => {
            // A failed precondition is a rival claim: not ours, nothing wrong. Anything else is counted and logged below.
            if (err.code !== GrpcStatus.FAILED_PRECONDITION) failures.set(String(err.code ?? err.message ?? "unknown"), (failures.get(String(err.code ?? err.message ?? "unknown")) ?? 0) + 1);
            return undefined;
          },
        ),
    );
  }
  await writer.close();
  const claimed = (await Promise.all(attempts)).filter((c): c is ClaimedRecipient => c !== undefined);
  if (failures.size > 0) logger.warn("claim: claims failed (not to a rival claim); those recipients stay pending", { messageId, shard: range.shard, errors: Object.fromEntries(failures) });
  return {
    claimed,
    full: snapshot.size >= limit,
    lastId: snapshot.docs[snapshot.size - 1]?.id,
    nextRetryAt,
    contended: failures.size > 0,
    reads: Math.max(1, snapshot.size),
  };
}
