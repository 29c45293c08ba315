import { REGION } from "./lib/env.ts";

/**
 * Runs the `sweep` scheduled function the way Cloud Scheduler does. A 2nd-gen
 * scheduled function is an HTTP function that Cloud Scheduler POSTs to with
 * its X-CloudScheduler-* headers. The Functions emulator registers it under the
 * trigger key `us-central1-sweep-0` with a Pub/Sub topic, but firebase-tools
 * 14's Pub/Sub emulator refuses to deliver to an HTTP-signature trigger
 * ("Unsupported trigger signature: http" in firebase-debug.log), so this makes
 * the call the scheduler would make. The answer comes when the run is over.
 */
export function triggerScheduledSweep(functionsOrigin: string, projectId: string, region = REGION): Promise<Response> {
  return triggerScheduled("sweep", functionsOrigin, projectId, region);
}

/** Runs any scheduled function (`sweep`, `fcmProbe`) as Cloud Scheduler would. */
export function triggerScheduled(name: string, functionsOrigin: string, projectId: string, region = REGION): Promise<Response> {
  return fetch(`${functionsOrigin}/functions/projects/${projectId}/triggers/${region}-${name}-0`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      "X-CloudScheduler-JobName": `firebase-schedule-${name}-${region}`,
      "X-CloudScheduler-ScheduleTime": new Date().toISOString(),
    },
    body: "{}",
  });
}
