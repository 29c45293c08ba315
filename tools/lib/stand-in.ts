import { stackEnv } from "./env.ts";

export interface AcceptedMessage {
  name: string;
  receivedAt: string;
  message: Record<string, unknown> & { token?: string };
}

export async function acceptedMessages(): Promise<AcceptedMessage[]> {
  const res = await fetch(`${stackEnv("FCM_STAND_IN_URL")}/_stand-in/messages`);
  return ((await res.json()) as { messages: AcceptedMessage[] }).messages;
}

/** Accepted messages sent to any of `tokens`. */
export async function acceptedFor(tokens: Iterable<string>): Promise<AcceptedMessage[]> {
  const wanted = new Set(tokens);
  return (await acceptedMessages()).filter((entry) => entry.message.token !== undefined && wanted.has(entry.message.token));
}

export async function sendAttempts(token: string): Promise<number> {
  const res = await fetch(`${stackEnv("FCM_STAND_IN_URL")}/_stand-in/attempts?token=${encodeURIComponent(token)}`);
  return ((await res.json()) as { attempts: number }).attempts;
}

/** Changes the running stand-in: its latency, its share of transient failures, and whether FCM is down (every send 503). */
export async function configureStandIn(config: { latencyMs?: number; failureRate?: number; outage?: boolean; projectFault?: "permission-denied" | "unauthenticated" | "not-found" | "quota" | null; quotaRetryAfterSeconds?: number }): Promise<void> {
  const res = await fetch(`${stackEnv("FCM_STAND_IN_URL")}/_stand-in/config`, { method: "PUT", body: JSON.stringify(config) });
  if (!res.ok) throw new Error(`stand-in refused the config: ${res.status}`);
}

export async function attemptTimes(token: string): Promise<number[]> {
  const res = await fetch(`${stackEnv("FCM_STAND_IN_URL")}/_stand-in/attempts?token=${encodeURIComponent(token)}`);
  return ((await res.json()) as { times: number[] }).times;
}
