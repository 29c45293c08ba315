import { createHash } from "node:crypto";
import { getFunctions } from "firebase-admin/functions";
import { z } from "zod";
import { adminApp } from "../shared/firestore";

export const DISPATCH_FUNCTION = "dispatchBatch";

/** What a dispatch task carries: one message, one shard of it, and where in the shard to go on from. */
export const dispatchTask = z.strictObject({
  messageId: z.string().min(1),
  shard: z.number().int().min(0),
  after: z.string().optional(),
  /** Since when (ms) this shard has waited for a message document that does not exist yet. */
  waitingSince: z.number().optional(),
  /** How many times in a row claims failed for another reason than a rival claim. */
  contended: z.number().int().min(0).optional(),
});
export type DispatchTask = z.infer<typeof dispatchTask>;

function hash(...parts: Array<string | number>): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 32);
}

/**
 * Enqueues a dispatch task under a deterministic id, so that the same request
 * made twice (thousands of triggers of one message, a task delivered twice)
 * yields one task. Returns the task's id, or false when that task already exists.
 */
export async function enqueueDispatch(task: DispatchTask, idParts: Array<string | number>, delaySeconds: number): Promise<string | false> {
  const queue = getFunctions(adminApp()).taskQueue(DISPATCH_FUNCTION);
  const id = `${idParts[0]}-${hash(task.messageId, task.shard, task.after ?? "", ...idParts)}`;
  try {
    await queue.enqueue(task, { id, scheduleDelaySeconds: Math.max(0, Math.ceil(delaySeconds)) });
    return id;
  } catch (err) {
    if ((err as { code?: string }).code === "functions/task-already-exists") return false;
    throw err;
  }
}

/** Seconds until the end of the current window of `windowSeconds`, plus a margin for clock skew. */
export function windowOf(nowMs: number, windowSeconds: number): { window: number; delaySeconds: number } {
  const windowMs = Math.max(1, windowSeconds) * 1000;
  const window = Math.floor(nowMs / windowMs);
  return { window, delaySeconds: ((window + 1) * windowMs - nowMs) / 1000 + 1 };
}
