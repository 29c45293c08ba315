import { Timestamp } from "firebase-admin/firestore";
import { logger } from "firebase-functions";
import { SHARDS, WINDOW_SECONDS } from "../shared/params";
import { redispatchPending } from "../sweep/recipients";
import { Redispatcher } from "../sweep/redispatch";
import { readSwitch, writeSwitch, type DeliverySwitch } from "./pause";
import { administerQueues } from "./queues";
import type { DeliveryStatus, QueueStatus } from "./schema";

export type { DeliveryStatus } from "./schema";


function status(state: DeliverySwitch, queues: QueueStatus[]): DeliveryStatus {
  return { paused: state.paused, reason: state.reason, by: state.by, at: state.at ? state.at.toDate().toISOString() : null, queues };
}

/**
 * The emergency stop, for the ops command and the `setDeliveryPaused`
 * callable alike. The Firestore switch comes first: it alone holds every
 * dispatch task (each reads it before claiming), within a batch's time. The
 * Cloud Tasks queues are paused after it, so that in production no dispatch
 * runs at all while stopped; resuming does it the other way round. Resuming
 * re-dispatches what waited (the switch's trigger, `resumeDelivery`), which
 * also logs the change.
 */
export async function setDeliveryPaused(paused: boolean, reason: string | null, by: string): Promise<DeliveryStatus> {
  if (!paused) {
    const queues = await administerQueues("resume");
    return status(await writeSwitch(false, null, by), queues);
  }
  const state = await writeSwitch(true, reason, by);
  return status(state, await administerQueues("pause"));
}

export async function deliveryStatus(): Promise<DeliveryStatus> {
  const [state, queues] = await Promise.all([readSwitch(), administerQueues("status")]);
  return status(state, queues);
}

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
