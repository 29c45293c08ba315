import { getFunctions } from "firebase-admin/functions";
import { adminApp } from "../../tools/lib/admin.ts";
import { stackEnv } from "../../tools/lib/env.ts";

/** Enqueues a dispatch task directly on the Cloud Tasks emulator, as a duplicate delivery would. */
export async function enqueueDispatchTask(task: { messageId: string; shard: number }): Promise<void> {
  stackEnv("CLOUD_TASKS_EMULATOR_HOST");
  await getFunctions(adminApp()).taskQueue("dispatchBatch").enqueue(task);
}
