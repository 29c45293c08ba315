import type { protos, v2beta3 } from "@google-cloud/tasks" with { "resolution-mode": "import" };
import { logger } from "firebase-functions";
import { DISPATCH_FUNCTION } from "../shared/contract";
import type { QueueStatus } from "./schema";
import { REGION } from "../shared/region";

/** The Cloud Tasks queues that carry delivery (a task function's queue is named after the function). */
export const DELIVERY_QUEUES = [DISPATCH_FUNCTION] as const;
export const QUEUE_LOCATION = REGION;

/**
 * The queue administration API of Cloud Tasks, through `@google-cloud/tasks`
 * (firebase-admin can only enqueue). v2beta3, because only it reports a
 * queue's backlog (`stats`, with a read mask).
 *
 * `CLOUD_TASKS_ADMIN_URL` points the client's HTTP/JSON transport at a
 * stand-in (the local stack starts one: the Cloud Tasks emulator has no
 * administration API), with a fixed token: the stand-in checks nothing and
 * records every request. Without it, inside an emulator, there is nothing to
 * administer and the queues are left out; in production the client uses the
 * runtime's credentials (the service account needs `cloudtasks.queues.pause`
 * and `cloudtasks.queues.get`, e.g. the Cloud Tasks Queue Admin role).
 */
async function client(): Promise<v2beta3.CloudTasksClient | undefined> {
  const standIn = process.env.CLOUD_TASKS_ADMIN_URL;
  const inEmulator = process.env.FUNCTIONS_EMULATOR === "true" || Boolean(process.env.FIRESTORE_EMULATOR_HOST);
  if (!standIn && inEmulator) return undefined;
  // Loaded on first use: the client is large, and most invocations never administer a queue.
  const { v2beta3: tasks } = await import("@google-cloud/tasks");
  if (!standIn) return new tasks.CloudTasksClient();
  const url = new URL(standIn);
  const { OAuth2Client } = await import("google-auth-library");
  const auth = new OAuth2Client();
  auth.setCredentials({ access_token: "stand-in", expiry_date: Date.now() + 3_600_000 });
  return new tasks.CloudTasksClient({ fallback: true, apiEndpoint: url.hostname, port: Number(url.port), protocol: url.protocol.replace(":", ""), authClient: auth });
}

function projectId(): string {
  const project = process.env.GCLOUD_PROJECT ?? process.env.GOOGLE_CLOUD_PROJECT;
  if (!project) throw new Error("no project id (GCLOUD_PROJECT)");
  return project;
}

export function queuePath(queue: string): string {
  return `projects/${projectId()}/locations/${QUEUE_LOCATION}/queues/${queue}`;
}

const asNumber = (value: unknown) => (value === undefined || value === null ? null : Number(value));

function timestampIso(value: { seconds?: unknown; nanos?: unknown } | null | undefined): string | null {
  if (!value || value.seconds === undefined || value.seconds === null) return null;
  return new Date(Number(value.seconds) * 1000 + Math.floor(Number(value.nanos ?? 0) / 1e6)).toISOString();
}

function describe(queue: protos.google.cloud.tasks.v2beta3.IQueue, name: string): QueueStatus {
  return {
    name,
    state: queue.state === undefined || queue.state === null ? null : String(queue.state),
    tasks: asNumber(queue.stats?.tasksCount),
    oldestEstimatedArrival: timestampIso(queue.stats?.oldestEstimatedArrivalTime),
    executedLastMinute: asNumber(queue.stats?.executedLastMinuteCount),
    concurrentDispatches: asNumber(queue.stats?.concurrentDispatchesCount),
  };
}

function failed(name: string, err: unknown): QueueStatus {
  return { name, state: null, tasks: null, oldestEstimatedArrival: null, executedLastMinute: null, concurrentDispatches: null, error: err instanceof Error ? err.message : String(err) };
}

/**
 * Pauses, resumes or only reads every delivery queue. A queue that cannot be
 * reached is reported with its error, not thrown: the Firestore stop already
 * holds every dispatch, and an operator must still see the rest.
 */
export async function administerQueues(action: "pause" | "resume" | "status"): Promise<QueueStatus[]> {
  const tasks = await client();
  if (!tasks) return [];
  try {
    return await Promise.all(
      DELIVERY_QUEUES.map(async (queue) => {
        const name = queuePath(queue);
        try {
          if (action === "pause") await tasks.pauseQueue({ name });
          if (action === "resume") await tasks.resumeQueue({ name });
          const [read] = await tasks.getQueue({ name, readMask: { paths: ["name", "state", "stats"] } });
          return describe(read, name);
        } catch (err) {
          logger.error("ops: queue administration failed", { queue: name, action, error: err instanceof Error ? err.message : String(err) });
          return failed(name, err);
        }
      }),
    );
  } finally {
    await tasks.close();
  }
}
