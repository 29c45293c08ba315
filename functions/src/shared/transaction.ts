import { GrpcStatus, type Transaction } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { db } from "./firestore";

/** Whole transactions started again after the client library has given up on one. */
const ATTEMPTS = 4;

/**
 * Contention the client library does not absorb by itself: it retries an
 * aborted transaction a few times and then throws ABORTED; and the Firestore
 * emulator, when two transactions race on one document, may close the loser
 * and refuse its retry with INVALID_ARGUMENT "Transaction is invalid or
 * closed". Both mean "try again from the start", never a fault of the request.
 */
export function isContention(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (code === GrpcStatus.ABORTED) return true;
  return code === GrpcStatus.INVALID_ARGUMENT && typeof message === "string" && /transaction is invalid or closed/i.test(message);
}

/**
 * `db().runTransaction`, started afresh (a new transaction, after a short
 * random pause) when it fails on contention, a bounded number of times. The
 * body must be a pure function of what it reads, as any transaction body is.
 * Errors the body throws (an HttpsError) pass through untouched.
 */
export async function runTransaction<R>(label: string, body: (tx: Transaction) => Promise<R>): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db().runTransaction(body);
    } catch (err) {
      if (!isContention(err) || attempt >= ATTEMPTS) throw err;
      logger.warn("transaction contended; starting it again", { transaction: label, attempt, error: (err as Error).message });
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 150 * attempt));
    }
  }
}
