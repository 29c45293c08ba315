import { Timestamp } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { SHARDS, WINDOW_SECONDS } from "../shared/params";
import { redispatchPending } from "./recipients";
import { Redispatcher } from "./redispatch";

/** The longest a resume's re-dispatch runs; what it leaves, the sweep's pending pass finds. */
const RESUME_BUDGET_MS = 480_000;

/**
 * After a resume: every shard of every message with pending recipients gets a
 * dispatch task (one small query per message and shard, as the sweep's
 * pending pass; ids of their own, so a sweep running at the same time shares
 * nothing with it). Tasks that ran during the stop claimed nothing; this is
 * what sends their recipients now, each once (claims are compare-and-set).
 */
export async function redispatchAfterResume(): Promise<{ redispatched: number; done: boolean }> {
  const now = Timestamp.now();
  const redispatch = new Redispatcher(WINDOW_SECONDS.value(), SHARDS.value(), "u");
  const result = await redispatchPending({ now, pageSize: 200, deadlineMs: Date.now() + RESUME_BUDGET_MS }, -1, redispatch);
  logger.info("ops: pending work re-dispatched after resume", { redispatched: result.redispatched, tasks: redispatch.tasksEnqueued, done: result.done });
  return { redispatched: result.redispatched, done: result.done };
}
