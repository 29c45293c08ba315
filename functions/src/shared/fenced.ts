import { GrpcStatus, type DocumentData, type DocumentReference, type Timestamp, type UpdateData } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { db } from "./firestore";

/**
 * One compare-and-set: an update that lands only if the document is unchanged
 * since `lastUpdateTime`, or a create that lands only if the document does
 * not exist yet.
 */
export type FencedUpdate<T = unknown> = {
  ref: DocumentReference;
  /** What the caller wants back about the updates that landed (a status code, a recipient). */
  tag: T;
} & ({ data: UpdateData<DocumentData>; lastUpdateTime: Timestamp } | { create: DocumentData });

/**
 * Writes that go with a set of updates, in the same atomic commit (counter
 * increments). `first` is true until one commit of this call has landed, so a
 * once-per-call figure (a batch count) is added exactly once.
 */
export type SideWrites<T> = (updates: Array<FencedUpdate<T>>, first: boolean) => Array<{ ref: DocumentReference; data: DocumentData }>;

export interface FencedResult<T> {
  landed: Array<FencedUpdate<T>>;
  /** Updates refused because the document had changed (someone else got there first). */
  superseded: Array<FencedUpdate<T>>;
}

/**
 * Updates per commit. Each commit also carries the side writes (a few counter
 * documents), well inside Firestore's limit on writes per commit.
 */
const CHUNK = 250;
/** Commits retried on a transient error before the failure is thrown to the caller (and the task retried). */
const COMMIT_ATTEMPTS = 4;

const TRANSIENT = new Set<number>([GrpcStatus.ABORTED, GrpcStatus.UNAVAILABLE, GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.INTERNAL]);

function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}

/**
 * Applies compare-and-set updates and, atomically with them, the side writes
 * computed from exactly the updates that landed. That is what keeps a tally
 * (a message's outcome counters, the hourly metrics) equal to the documents it
 * counts, whatever crashes: either a chunk's updates and its increments are
 * committed together, or neither is.
 *
 * A chunk is one atomic batch; if any of its preconditions fails, the batch
 * fails as a whole and its updates are retried one per commit, so that the
 * ones whose document is unchanged still land (each with its own share of the
 * side writes). A precondition failure (a changed document, or one that
 * already exists for a create) is a normal outcome (superseded); any other
 * error is retried a few times, logged, then thrown.
 */
export async function commitFenced<T>(updates: Array<FencedUpdate<T>>, sideWrites: SideWrites<T>, context: Record<string, unknown>): Promise<FencedResult<T>> {
  const result: FencedResult<T> = { landed: [], superseded: [] };
  const commit = (chunk: Array<FencedUpdate<T>>) => commitChunk(chunk, sideWrites(chunk, result.landed.length === 0), context);
  for (let start = 0; start < updates.length; start += CHUNK) {
    const chunk = updates.slice(start, start + CHUNK);
    if (await commit(chunk)) {
      result.landed.push(...chunk);
      continue;
    }
    for (const update of chunk) {
      if (await commit([update])) result.landed.push(update);
      else result.superseded.push(update);
    }
  }
  return result;
}

/** True when committed, false when a precondition failed; throws on a persistent error. */
async function commitChunk<T>(chunk: Array<FencedUpdate<T>>, sides: Array<{ ref: DocumentReference; data: DocumentData }>, context: Record<string, unknown>): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const batch = db().batch();
    for (const update of chunk) {
      if ("create" in update) batch.create(update.ref, update.create);
      else batch.update(update.ref, update.data, { lastUpdateTime: update.lastUpdateTime });
    }
    for (const side of sides) batch.set(side.ref, side.data, { merge: true });
    try {
      await batch.commit();
      return true;
    } catch (err) {
      const code = codeOf(err);
      if (code === GrpcStatus.FAILED_PRECONDITION || code === GrpcStatus.NOT_FOUND || code === GrpcStatus.ALREADY_EXISTS) return false;
      if (!TRANSIENT.has(code ?? -1) || attempt >= COMMIT_ATTEMPTS) {
        logger.error("fenced commit failed", { ...context, updates: chunk.length, attempt, code, error: String(err) });
        throw err;
      }
      logger.warn("fenced commit failed; retrying", { ...context, updates: chunk.length, attempt, code });
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
  }
}
