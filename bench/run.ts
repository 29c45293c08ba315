/**
 * `npm run bench`: drains messages of 1,000 and 10,000 recipients through the
 * local stack and prints throughput, latency and Firestore operations per
 * recipient; and, for comparison, raw sendEach batches against the stand-in.
 * Then a broadcast to BENCH_BROADCAST (10,000; 100000 for the large run) more devices through sendMessage.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { QueryDocumentSnapshot, Timestamp } from "firebase-admin/firestore";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { standInMessaging } from "../functions/src/fcm/client.ts";
import { setDeliveryPaused } from "../functions/src/ops/stop.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { stackEnv, PROJECT_ID } from "../tools/lib/env.ts";
import { signedInUser } from "../tools/lib/client.ts";
import { addRecipients, createMessage, seedDevices, waitForTriggersToCatchUp } from "../tools/lib/fixtures.ts";
import { waitFor } from "../tools/lib/wait.ts";

const SIZES = (process.env.BENCH_SIZES ?? "1000,10000").split(",").filter(Boolean).map(Number);
/** Devices in the broadcast run (0 skips it). */
const BROADCAST = Number(process.env.BENCH_BROADCAST ?? 10000);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Raw sendEach to the stand-in, no Firestore: the ceiling the pipeline is compared with. Returns messages/s. */
async function rawSendEach(batches: number): Promise<number> {
  const messaging = standInMessaging(new URL(stackEnv("FCM_STAND_IN_URL")), PROJECT_ID);
  const batch = Array.from({ length: 500 }, (_, i) => ({ token: `bench-raw-${i}`, notification: { title: "Bench", body: "Raw sendEach" } }));
  await messaging.sendEach(batch.slice(0, 10)); // warm the connection pool
  const started = performance.now();
  for (let i = 0; i < batches; i++) {
    const result = await messaging.sendEach(batch);
    if (result.successCount !== batch.length) throw new Error(`raw batch ${i}: ${result.failureCount} failures`);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`raw sendEach, no Firestore: ${batches} batches of 500 in ${seconds.toFixed(1)} s = ${Math.round((batches * 500) / seconds)} messages/s`);
  return (batches * 500) / seconds;
}

/** Sums what the dispatch tasks counted for one message (each logs its reads and writes). */
function countedOperations(messageId: string): { reads: number; writes: number; tasks: number; empty: number } {
  const log = readFileSync(join(process.cwd(), ".cache", "functions.log"), "utf8");
  let reads = 0;
  let writes = 0;
  let tasks = 0;
  let empty = 0;
  for (const line of log.split("\n")) {
    if (!line.includes(messageId)) continue;
    if (line.includes("dispatch: nothing to claim")) empty += 1;
    if (!line.includes("dispatch: batch done")) continue;
    const entry = JSON.parse(line.slice(line.indexOf("{"))) as { reads: number; writes: number };
    reads += entry.reads;
    writes += entry.writes;
    tasks += 1;
  }
  return { reads, writes, tasks, empty };
}

async function benchDevices(size: number): Promise<Array<{ deviceId: string }>> {
  const devices: Array<{ deviceId: string }> = [];
  for (let i = 0; i < size; i += 2000) {
    devices.push(...(await seedDevices(Array.from({ length: Math.min(2000, size - i) }, (_, j) => ({ token: `ok-bench-${randomUUID()}-${i + j}`, platform: "android" as const })))));
  }
  return devices;
}

/**
 * Recipients of the message with a final status, from its outcome counters
 * (one small document per shard, kept in the same commits as the statuses).
 * Polling them costs the emulator next to nothing, where a count() query
 * over the recipients makes it scan the whole collection every time, taking
 * the CPU the delivery being measured runs on.
 */
async function finalCounts(messageId: string): Promise<Record<string, number>> {
  const counters = await adminDb().collection("messages").doc(messageId).collection("counters").get();
  const counts: Record<string, number> = {};
  for (const doc of counters.docs) for (const [code, n] of Object.entries((doc.get("counts") ?? {}) as Record<string, number>)) counts[code] = (counts[code] ?? 0) + n;
  return counts;
}

async function finalCount(messageId: string): Promise<number> {
  return Object.values(await finalCounts(messageId)).reduce((sum, n) => sum + n, 0);
}

/** Waits until every recipient of the message is final; returns their documents. */
async function untilFinal(messageId: string, size: number): Promise<QueryDocumentSnapshot[]> {
  await waitFor(`${size} recipients to be final`, async () => ((await finalCount(messageId)) >= size ? true : undefined), 30 * 60_000, 250);
  return (await adminDb().collection("messages").doc(messageId).collection("recipients").get()).docs;
}

async function drain(size: number, report = true): Promise<void> {
  const devices = await benchDevices(size);
  const messageId = await createMessage({ title: "Benchmark", body: `A message to ${size} devices` });
  const started = Date.now();
  await addRecipients(messageId, devices.map((d) => ({ deviceId: d.deviceId })));
  const written = Date.now();
  const docs = await untilFinal(messageId, size);
  const latencies: number[] = [];
  let first = Infinity;
  let last = 0;
  const statuses = new Map<number, number>();
  for (const doc of docs) {
    const created = doc.createTime.toMillis();
    const finished = doc.updateTime.toMillis();
    first = Math.min(first, created);
    last = Math.max(last, finished);
    latencies.push(finished - created);
    statuses.set(doc.get("status") as number, (statuses.get(doc.get("status") as number) ?? 0) + 1);
  }
  latencies.sort((a, b) => a - b);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // let the last log lines reach the file
  if (!report) return;
  const ops = countedOperations(messageId);
  const seconds = (last - first) / 1000;
  console.log(
    [
      `drain of ${size} recipients (message ${messageId}):`,
      `  recipients written in ${((written - started) / 1000).toFixed(1)} s; all final ${seconds.toFixed(1)} s after the first was created`,
      `  end to end: ${Math.round(size / seconds)} recipients/s`,
      `  creation → final status: p50 ${(percentile(latencies, 50) / 1000).toFixed(2)} s, p95 ${(percentile(latencies, 95) / 1000).toFixed(2)} s`,
      `  final statuses: ${[...statuses].map(([status, count]) => `${status}×${count}`).join(", ")}`,
      `  dispatch tasks: ${ops.tasks}; Firestore per recipient (counted by the tasks): ${(ops.reads / size).toFixed(2)} reads, ${(ops.writes / size).toFixed(2)} writes`,
      `  (batches sent by a trigger itself count as tasks here; plus the writer's own create)`,
    ].join("\n"),
  );
}

/**
 * A backlog of `size` pending recipients, drained. They are written while
 * delivery is paused (the emergency stop), and every trigger has run and
 * claimed nothing before delivery resumes, so what is timed — from the resume
 * to the last final status — is the dispatch tasks alone (claim, sendEach,
 * outcomes), not the writer's pace or the Functions emulator's one queue of
 * Firestore triggers, which the drains above include.
 */
async function backlog(size: number, rawRate: number): Promise<void> {
  const devices = await benchDevices(size);
  await setDeliveryPaused(true, "bench: a backlog builds up", "bench");
  try {
    const messageId = await createMessage({ title: "Benchmark", body: `A backlog of ${size}` });
    await addRecipients(messageId, devices.map((d) => ({ deviceId: d.deviceId })));
    await waitForTriggersToCatchUp();
    const recipients = adminDb().collection("messages").doc(messageId).collection("recipients");
    const pending = (await recipients.where("status", "==", -1).count().get()).data().count;
    if (pending !== size) throw new Error(`backlog: ${pending} of ${size} recipients pending before the resume`);
    const resumed = Date.now();
    await setDeliveryPaused(false, null, "bench");
    const docs = await untilFinal(messageId, size);
    const last = Math.max(...docs.map((d) => d.updateTime.toMillis()));
    const accepted = docs.filter((d) => d.get("status") === 200).length;
    await new Promise((resolve) => setTimeout(resolve, 1500)); // let the last log lines reach the file
    const ops = countedOperations(messageId);
    const seconds = (last - resumed) / 1000;
    const rate = size / seconds;
    console.log(
      [
        `backlog of ${size} pending recipients (message ${messageId}), drained after a resume:`,
        `  all final ${seconds.toFixed(1)} s after the resume: ${Math.round(rate)} recipients/s = ${((100 * rate) / rawRate).toFixed(1)}% of raw sendEach in this run (${Math.round(rawRate)}/s); ${accepted} accepted`,
        `  dispatch tasks: ${ops.tasks}; Firestore per recipient (counted by the tasks): ${(ops.reads / size).toFixed(2)} reads, ${(ops.writes / size).toFixed(2)} writes`,
      ].join("\n"),
    );
  } finally {
    await setDeliveryPaused(false, null, "bench");
  }
}

/**
 * One recipient at a time, the system otherwise idle: from the recipient's
 * creation to its final status (both server timestamps), over `count` sends.
 */
async function singleLatency(count: number): Promise<void> {
  const [device] = await seedDevices([{ token: `ok-single-${randomUUID()}` }]);
  if (!device) throw new Error("no device seeded");
  const latencies: number[] = [];
  // The first sends start the emulator's worker processes for the trigger path: not measured.
  const warmUp = 3;
  for (let i = 0; i < count + warmUp; i++) {
    const messageId = await createMessage({ title: "Single", body: `Send ${i}` });
    const [recipientId] = await addRecipients(messageId, [{ deviceId: device.deviceId }]);
    const ref = adminDb().collection("messages").doc(messageId).collection("recipients").doc(recipientId ?? "");
    const doc = await waitFor("the single recipient to be final", async () => {
      const snapshot = await ref.get();
      const status = snapshot.get("status") as number;
      return status !== -1 && status !== -2 ? snapshot : undefined;
    }, 30_000, 20);
    if (i >= warmUp) latencies.push(doc.updateTime!.toMillis() - doc.createTime!.toMillis());
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  latencies.sort((a, b) => a - b);
  console.log(`single recipient, idle, ${count} sends: creation → final status p50 ${percentile(latencies, 50)} ms, p95 ${percentile(latencies, 95)} ms (min ${latencies[0]}, max ${latencies[latencies.length - 1]})`);
}

/**
 * A broadcast ({ all: true }) through the sendMessage callable, as staff send
 * one. The call only writes the message; the audience is expanded in the
 * background and delivery starts with its first page. Measured from the
 * call's start: the call's answer, the first and the last delivery the
 * stand-in received (its receivedAt), and the moment every record is final.
 * Devices are seeded in parallel BulkWriter batches with hash-like ids (as
 * apps make them), so they spread over the expansion's id ranges. It runs
 * last; devices seeded by the drains are in its audience too (`BENCH_SIZES=`
 * leaves them out).
 */
/**
 * A small broadcast (a `where` audience of 64 devices, spread over the id
 * ranges): sendMessage, the message trigger, one expansion task per part and
 * the record tasks of their pages each start their worker processes (one per
 * task running at once), so the broadcast's figures do not include them.
 */
async function warmExpansion(): Promise<void> {
  const benchWarmUp = randomUUID();
  await seedDevices(Array.from({ length: 64 }, (_, i) => ({ deviceId: randomBytes(12).toString("base64url"), token: `ok-warm-${benchWarmUp}-${i}`, attributes: { benchWarmUp } })));
  const staff = await signedInUser({ pushSender: true });
  const { messageId } = await staff.call<{ messageId: string }>("sendMessage", { title: "Warm-up", body: "A small broadcast", audience: { where: { benchWarmUp } } });
  await staff.close();
  const message = adminDb().collection("messages").doc(messageId);
  await waitFor("the warm-up's expansion", async () => ((await message.get()).get("recipientsWrittenAt") ? true : undefined), 120_000, 250);
  await waitFor("the warm-up's records", async () => ((await finalCount(messageId)) >= 64 ? true : undefined), 120_000, 250);
}

async function broadcast(size: number, rawRate: number): Promise<void> {
  const run = randomUUID().slice(0, 8);
  const chunk = 5000;
  const seedStarted = Date.now();
  const chunks = Array.from({ length: Math.ceil(size / chunk) }, (_, c) => c);
  let nextChunk = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (nextChunk < chunks.length) {
        const c = nextChunk++;
        const count = Math.min(chunk, size - c * chunk);
        await seedDevices(Array.from({ length: count }, (_, j) => ({ deviceId: randomBytes(12).toString("base64url"), token: `ok-broadcast-${run}-${c * chunk + j}`, platform: "android" as const })));
      }
    }),
  );
  console.log(`broadcast: ${size} devices seeded in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);
  const staff = await signedInUser({ pushSender: true });
  const started = Date.now();
  const { messageId } = await staff.call<{ messageId: string }>("sendMessage", { title: "Broadcast", body: "To every device", audience: { all: true } });
  const answered = Date.now();
  await staff.close();
  const message = adminDb().collection("messages").doc(messageId);
  const collection = message.collection("recipients");
  const recipients = await waitFor(
    "the broadcast's records to be final",
    async () => {
      const snapshot = await message.get();
      const count = snapshot.get("recipientCount") as number | null;
      if (typeof count !== "number" || !snapshot.get("recipientsWrittenAt")) return undefined;
      return (await finalCount(messageId)) >= count ? count : undefined;
    },
    60 * 60_000,
    250,
  );
  const final = Date.now();
  const writtenAt = ((await message.get()).get("recipientsWrittenAt") as Timestamp).toMillis();
  // A broadcast's accepted recipients are recorded on their pages (compactly), counted by its outcome counters.
  const accepted = (await finalCounts(messageId))["200"] ?? 0;
  const res = await fetch(`${stackEnv("FCM_STAND_IN_URL")}/_stand-in/messages`);
  const { messages } = (await res.json()) as { messages: Array<{ receivedAt: string; message: { token?: string } }> };
  const ours = messages.filter((m) => m.message.token?.startsWith(`ok-broadcast-${run}-`));
  const times = ours.map((m) => Date.parse(m.receivedAt));
  const reachedTwice = ours.length - new Set(ours.map((m) => m.message.token)).size;
  const first = times.reduce((a, b) => Math.min(a, b), Infinity);
  const last = times.reduce((a, b) => Math.max(a, b), 0);
  // Where the time to the first delivery went: the message document, then the first recipient document (one not accepted at once), if any.
  const messageCreated = (await message.get()).createTime?.toMillis() ?? NaN;
  let firstCreated = Infinity;
  for (const doc of (await collection.select().get()).docs) firstCreated = Math.min(firstCreated, doc.createTime.toMillis());
  // A page document is created once its part has streamed the page's devices, just before its sendEach.
  let firstPage = Infinity;
  for (const doc of (await message.collection("pages").select().get()).docs) firstPage = Math.min(firstPage, doc.createTime.toMillis());
  await new Promise((resolve) => setTimeout(resolve, 1500)); // let the last log lines reach the file
  const ops = countedOperations(messageId);
  const pages = (await message.collection("pages").count().get()).data().count;
  const perSecond = times.length / ((last - started) / 1000);
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  console.log(
    [
      `broadcast { all: true } to ${recipients} devices (message ${messageId}; ${size} seeded for it):`,
      `  sendMessage answered in ${answered - started} ms; every recipient written (recipientsWrittenAt) ${s(writtenAt - started)} after the call began`,
      `  message document created ${s(messageCreated - started)} after the call began, its first page ${s(firstPage - started)} after, its first recipient document ${Number.isFinite(firstCreated) ? `${s(firstCreated - started)} after` : "never (every recipient accepted: recorded on its page)"}`,
      `  first delivery (stand-in receivedAt) ${s(first - started)} after the call began; all ${times.length - reachedTwice} of this run's devices reached ${s(last - started)} after (${reachedTwice} sends to a device reached before); every record final ${s(final - started)} after (${accepted} accepted)`,
      `  ${Math.round(perSecond)} deliveries/s from the call to the last delivery (${Math.round(times.length / ((last - first) / 1000))}/s from first to last) = ${((100 * perSecond) / rawRate).toFixed(1)}% of raw sendEach in this run (${Math.round(rawRate)}/s)`,
      `  pages sent by the expansion parts: ${pages}; dispatch batches that claimed recipients (retries, pages written pending): ${ops.tasks}; tasks that found nothing to claim: ${ops.empty}`,
    ].join("\n"),
  );
}

/**
 * The priority lane: one-device sends through the sendMessage callable, from
 * the call's start to the stand-in's receivedAt (one clock: the same
 * machine), `count` of them one after another with the stack idle, then
 * the same while a broadcast to `broadcastSize` devices (a `where` audience
 * seeded for it) drains, sends spaced over the broadcast until its last
 * delivery. Goal (issue "Delivery truth and a priority lane"): p50 ≤ 300 ms
 * idle, and during the broadcast p50 within 1.5× of idle and p95 ≤ 1 s.
 */
async function priorityLatency(count: number, broadcastSize: number): Promise<void> {
  const staff = await signedInUser({ pushSender: true });
  const userId = `bench-lane-${randomUUID()}`;
  await seedDevices([{ userId, token: `ok-lane-${randomUUID()}` }]);
  const [{ token } = { token: "" }] = (await adminDb().collection("devices").where("userId", "==", userId).get()).docs.map((d) => ({ token: d.get("token") as string }));
  const deliveries = async () => {
    const res = await fetch(`${stackEnv("FCM_STAND_IN_URL")}/_stand-in/messages`);
    return ((await res.json()) as { messages: Array<{ receivedAt: string; message: { token?: string; data?: Record<string, string> } }> }).messages;
  };
  const sendOne = async (label: string): Promise<number> => {
    const started = Date.now();
    const { messageId } = await staff.call<{ messageId: string }>("sendMessage", { title: "Lane", body: label, audience: { users: [userId] } });
    const received = await waitFor(`the lane's send ${label}`, async () => (await deliveries()).find((m) => m.message.token === token && m.message.data?.messageId === messageId), 60_000, 20);
    return Date.parse(received.receivedAt) - started;
  };
  const summary = (times: number[]) => {
    const sorted = [...times].sort((a, b) => a - b);
    return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), text: `p50 ${percentile(sorted, 50)} ms, p95 ${percentile(sorted, 95)} ms (min ${sorted[0]}, max ${sorted[sorted.length - 1]}, ${sorted.length} sends)` };
  };
  // The broadcast's devices are seeded first: the idle figures are taken over the same data (the emulator scans a collection for every query).
  const cohort = `bench-lane-${randomUUID()}`;
  const run = randomUUID().slice(0, 8);
  for (let i = 0; i < broadcastSize; i += 5000) {
    await seedDevices(Array.from({ length: Math.min(5000, broadcastSize - i) }, (_, j) => ({ deviceId: randomBytes(12).toString("base64url"), token: `ok-lane-broadcast-${run}-${i + j}`, attributes: { cohort } })));
  }
  for (let i = 0; i < 3; i++) await sendOne(`warm-up ${i}`);
  const idle: number[] = [];
  for (let i = 0; i < count; i++) {
    idle.push(await sendOne(`idle ${i}`));
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const { messageId } = await staff.call<{ messageId: string }>("sendMessage", { title: "Broadcast", body: "While single sends go out", audience: { where: { cohort } } });
  const broadcastTokens = (m: { message: { token?: string } }) => m.message.token?.startsWith(`ok-lane-broadcast-${run}-`) ?? false;
  await waitFor("the broadcast's first delivery", async () => ((await deliveries()).some(broadcastTokens) ? true : undefined), 120_000, 100);
  const during: number[] = [];
  const message = adminDb().collection("messages").doc(messageId);
  for (;;) {
    during.push(await sendOne(`during ${during.length}`));
    const snapshot = await message.get();
    const total = snapshot.get("recipientCount") as number | null;
    const reached = (await deliveries()).filter(broadcastTokens).length;
    if (typeof total === "number" && reached >= total) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const reached = (await deliveries()).filter(broadcastTokens).map((m) => Date.parse(m.receivedAt));
  const drainSeconds = (Math.max(...reached) - Math.min(...reached)) / 1000;
  await staff.close();
  const a = summary(idle);
  const b = summary(during);
  console.log(
    [
      `priority lane: one-device sendMessage, call → accepted by the stand-in:`,
      `  idle: ${a.text}`,
      `  while a ${broadcastSize}-device broadcast drains (${reached.length} delivered in ${drainSeconds.toFixed(1)} s): ${b.text}`,
      `  during / idle p50: ${(b.p50 / a.p50).toFixed(2)}× (goal ≤ 1.5×); p95 during ${b.p95} ms (goal ≤ 1000 ms); idle p50 ${a.p50} ms (goal ≤ 300 ms)`,
    ].join("\n"),
  );
}

const rawRate = await rawSendEach(Number(process.env.BENCH_RAW_BATCHES ?? 20));
// Warm-up: the emulator starts a worker process per function on first use; keep that out of the figures.
await drain(100, false);
await warmExpansion();
await singleLatency(Number(process.env.BENCH_SINGLE ?? 20));
const LANE_BROADCAST = Number(process.env.BENCH_LANE_BROADCAST ?? 20000);
if (LANE_BROADCAST > 0) await priorityLatency(Number(process.env.BENCH_LANE_SINGLE ?? 20), LANE_BROADCAST);
for (const size of SIZES) await drain(size);
const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 10000);
if (BACKLOG > 0) await backlog(BACKLOG, rawRate);
if (BROADCAST > 0) await broadcast(BROADCAST, rawRate);

/**
 * A Moodle burst: BENCH_MOODLE_BURST (300) pushes of a forum post, as a site
 * sends them to the AirNotifier-compatible endpoint through Hosting, with
 * BENCH_MOODLE_SENDERS (8) in flight at once (Moodle sends one push per
 * device, each waiting up to 2 s). Prints the answer times, the time until the
 * stand-in has every one, and the sendEach calls (dispatch tasks that claimed
 * something, from the function log). The Functions emulator runs one request
 * per worker process, so a short warm-up burst first starts those processes.
 */
async function moodleBurst(pushes: number, senders: number): Promise<void> {
  const { createKey } = await import("../functions/src/keys/service.ts");
  const key = await createKey({ name: "Bench Moodle site", scopes: ["devices:write", "messages:send"], surface: "moodle" });
  const origin = stackEnv("HOSTING_ORIGIN");
  const push = async (token: string, i: number): Promise<number> => {
    const body = JSON.stringify({
      device: "Android-fcm",
      token,
      extra: { processor: "moodle", component: "mod_forum", name: "posts", subject: "New post", smallmessage: `Forum post ${i}`, notification: 1, sitefullname: "Bench University", siteshortname: "BU", wwwroot: "https://moodle.example.org", usertoid: String(i), encrypted: false, customdata: "{}", convid: null },
    });
    const started = performance.now();
    const res = await fetch(`${origin}/api/v2/push/`, {
      method: "POST",
      headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded", "user-agent": "MoodleBot/5.1 (+https://moodle.example.org)", "x-an-app-name": "commoodlemoodlemobile", "x-an-app-key": key.secret },
      body,
    });
    await res.text();
    if (res.status !== 202) throw new Error(`push ${i}: HTTP ${res.status}`);
    return performance.now() - started;
  };
  const run = async (tokens: string[]): Promise<number[]> => {
    const times: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: senders }, async () => {
        while (next < tokens.length) {
          const i = next++;
          times.push(await push(tokens[i] as string, i));
        }
      }),
    );
    return times;
  };
  const delivered = async (prefix: string, count: number, from: number): Promise<number> => {
    await waitFor(`${count} Moodle pushes at the stand-in`, async () => {
      const res = await fetch(`${stackEnv("FCM_STAND_IN_URL")}/_stand-in/messages`);
      const { messages } = (await res.json()) as { messages: Array<{ message: { token?: string } }> };
      return messages.filter((m) => m.message.token?.startsWith(prefix)).length >= count ? true : undefined;
    }, 10 * 60_000, 250);
    return Date.now() - from;
  };

  const warm = `ok-moodle-warm-${randomUUID()}-`;
  await run(Array.from({ length: Math.min(pushes, 4 * senders) }, (_, i) => `${warm}${i}`));
  await delivered(warm, Math.min(pushes, 4 * senders), Date.now());

  const prefix = `ok-moodle-${randomUUID()}-`;
  const started = Date.now();
  const times = (await run(Array.from({ length: pushes }, (_, i) => `${prefix}${i}`))).sort((a, b) => a - b);
  const answered = Date.now() - started;
  const allDelivered = await delivered(prefix, pushes, started);
  await new Promise((resolve) => setTimeout(resolve, 1500)); // let the last log lines reach the file
  const ids = new Set((await adminDb().collection("messages").where("senderId", "==", `key:${key.keyId}`).select().get()).docs.map((d) => d.id));
  let sendEachCalls = 0;
  for (const line of readFileSync(join(process.cwd(), ".cache", "functions.log"), "utf8").split("\n")) {
    if (!line.includes("dispatch: batch done")) continue;
    const entry = JSON.parse(line.slice(line.indexOf("{"))) as { messageId: string; claimed: number };
    if (ids.has(entry.messageId) && entry.claimed > 0) sendEachCalls += 1;
  }
  console.log(
    [
      `Moodle burst: ${pushes} pushes (E3 through Hosting, ${senders} in flight; ${ids.size} messages incl. ${ids.size - pushes} warm-up):`,
      `  answers: p50 ${percentile(times, 50).toFixed(0)} ms, p95 ${percentile(times, 95).toFixed(0)} ms, slowest ${(times[times.length - 1] ?? NaN).toFixed(0)} ms; all answered in ${(answered / 1000).toFixed(1)} s`,
      `  all delivered (stand-in) ${(allDelivered / 1000).toFixed(1)} s after the first push was sent`,
      `  sendEach calls (dispatch tasks that claimed recipients, warm-up included): ${sendEachCalls}`,
    ].join("\n"),
  );
}

const MOODLE_BURST = Number(process.env.BENCH_MOODLE_BURST ?? 300);
// Whatever the runs above left for the emulator's triggers to do, let it finish first: the burst measures answers.
if (MOODLE_BURST > 0) await waitForTriggersToCatchUp();
if (MOODLE_BURST > 0) await moodleBurst(MOODLE_BURST, Number(process.env.BENCH_MOODLE_SENDERS ?? 8));
process.exit(0);
