import { logger } from "firebase-functions";
import { onSchedule } from "firebase-functions/v2/scheduler";
import { probeAndResume } from "../ops/fcm";
import { SINGLETON } from "../shared/sizing";

/**
 * Lifts a stop that FCM's own project-level fault set (ops/fcm.ts) once a
 * validate_only send is answered normally again. Every minute, FCM's own
 * pace for such checks; while delivery runs it costs one document read.
 * Small: one read, at most one send and two writes.
 */
export const fcmProbe = onSchedule(
  { schedule: "every 1 minutes", timeoutSeconds: 60, retryCount: 0, ...SINGLETON, memory: "256MiB" },
  async () => {
    const result = await probeAndResume();
    if (result !== "running") logger.info("fcm: probe run", { result });
  },
);
