/**
 * `npm run bench:cost`: what one broadcast and one single send cost, measured
 * on the local stack and priced with docs/cost.md's model.
 *
 * Method. The stack runs with STACK_METER=1: every function worker reaches
 * Firestore and Cloud Tasks through the meter (tools/meter.ts), a relay that
 * passes each gRPC stream and HTTP request through unchanged and decodes it
 * with the Firestore client's own protos. Nothing is mocked and the
 * functions' code is untouched. For each send the bench takes the meter's
 * events and the Functions emulator's log lines from the moment of the call
 * until the stack is quiet again (no Firestore traffic and every invocation
 * finished for QUIET_MS), and counts:
 * - document reads (each document a get, query or listener returned; one
 *   for a query that matched nothing; a count() one per 1,000 entries),
 *   writes (creates, sets, updates, transforms) and deletes the emulator
 *   accepted, each with its commit time, and commits it refused;
 * - index entries written, from each write's fields and firestore.indexes.json
 *   (bench/billing.ts states the rule);
 * - invocations and their time per function (the emulator's "Finished … in N ms");
 * - Cloud Tasks operations: each enqueue (a 409 "exists" included: an API
 *   call is billed) and each task delivered (an invocation of a task function);
 * - bytes stored: every document the send left (the message and everything
 *   under it, the metrics documents it wrote) read back and sized by
 *   Firestore's storage rules with its index entries;
 * - cleanup: the message's createdAt is set back beyond MESSAGE_RETENTION_DAYS
 *   and the sweep run once, as Cloud Scheduler would, so what it reads and
 *   deletes is measured rather than waited 90 days for; the bytes left after
 *   it are what stays;
 * - the most writes any one document took within one second (by commit
 *   time), and which documents.
 *
 * Blind spots. Only the functions' own traffic is metered: the bench's
 * seeding and polling, and the emulators' internal calls (the Firestore
 * emulator delivering trigger events, the Cloud Tasks emulator calling task
 * functions) are not, as none of them is billed as Firestore operations in
 * production either. Index entries *read* by queries are not billed by
 * Firestore Standard for these queries and are not counted. Invocation time is
 * the emulator's on a shared two-core machine (each request its own worker
 * process, no concurrency): an upper bound for production's CPU time.
 * Commits the emulator refused (a contended transaction, a create of a
 * document that exists) are shown apart and not billed. A transform-only
 * write and an update are one write each, as Firestore bills them. Per
 * 1,000,000 devices is the broadcast scaled linearly: the fixed part (the
 * message, its 8 parts and shards) is then counted 1,000,000 / N times over.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Timestamp, type DocumentReference } from "firebase-admin/firestore";
import { adminDb } from "../tools/lib/admin.ts";
import { signedInUser } from "../tools/lib/client.ts";
import { PROJECT_ID, stackEnv, stackParam } from "../tools/lib/env.ts";
import { seedDevices } from "../tools/lib/fixtures.ts";
import { waitFor } from "../tools/lib/wait.ts";
import { triggerScheduledSweep } from "../tools/scheduler.ts";
import type { MeterEvent } from "../tools/meter.ts";
import { entriesWritten, FUNCTION_SIZE, PRICES, storedSize } from "./billing.ts";

const DEVICES = Number(process.env.COST_DEVICES ?? 5000);
const QUIET_MS = 4000;
const TASK_FUNCTIONS = new Set(["dispatchBatch", "expandAudience", "recordPage"]);
const LOG = join(process.cwd(), ".cache", "functions.log");

interface Mark {
  journal: number;
  log: number;
}

async function journal(from: number): Promise<{ events: MeterEvent[]; next: number }> {
  const res = await fetch(`${stackEnv("METER_URL")}/_meter/journal?from=${from}`);
  return (await res.json()) as { events: MeterEvent[]; next: number };
}

async function mark(): Promise<Mark> {
  return { journal: (await journal(Number.MAX_SAFE_INTEGER)).next, log: statSync(LOG).size };
}

function logSince(from: number): string[] {
  return readFileSync(LOG).subarray(from).toString("utf8").split("\n");
}

/** Quiet: no new meter event, no new log line, and every invocation begun has finished, for QUIET_MS. */
async function untilQuiet(since: Mark): Promise<void> {
  let last = "";
  let stableSince = Date.now();
  await waitFor("the stack to be quiet", async () => {
    const lines = logSince(since.log);
    const begun = lines.filter((l) => l.includes("Beginning execution of")).length;
    const finished = lines.filter((l) => /Finished ".*" in /.test(l)).length;
    const state = `${(await journal(Number.MAX_SAFE_INTEGER)).next}/${lines.length}/${begun - finished}`;
    // An invocation begun before the mark may finish after it: busy only while more have begun than finished.
    if (state !== last || begun > finished) {
      last = state;
      stableSince = Date.now();
    }
    return Date.now() - stableSince >= QUIET_MS ? true : undefined;
  }, 30 * 60_000, 500);
}

interface Invocations {
  count: number;
  ms: number;
}

export interface Measured {
  reads: number;
  creates: number;
  updates: number;
  deletes: number;
  refusedWrites: number;
  indexEntries: number;
  invocations: Map<string, Invocations>;
  enqueued: number;
  enqueueRefused: number;
  taskDeliveries: number;
  /** Per function: reads, writes, deletes. */
  byCaller: Map<string, { reads: number; writes: number; deletes: number }>;
  hottest: Array<{ path: string; perSecond: number }>;
  writtenPaths: Set<string>;
}

/** The most writes one document took within any one second, by commit time. */
function hottest(writes: Array<{ path: string; t: number }>, top: number): Array<{ path: string; perSecond: number }> {
  const byPath = new Map<string, number[]>();
  for (const w of writes) byPath.set(w.path, [...(byPath.get(w.path) ?? []), w.t]);
  const peaks = [...byPath].map(([path, times]) => {
    times.sort((a, b) => a - b);
    let peak = 0;
    for (let i = 0, j = 0; j < times.length; j++) {
      while ((times[j] as number) - (times[i] as number) >= 1000) i++;
      peak = Math.max(peak, j - i + 1);
    }
    return { path, perSecond: peak };
  });
  return peaks.sort((a, b) => b.perSecond - a.perSecond).slice(0, top);
}

function invocationsOf(lines: string[]): Map<string, Invocations> {
  const invocations = new Map<string, Invocations>();
  for (const line of lines) {
    const m = /Finished "us-central1-([^"]+)" in ([\d.]+)ms/.exec(line);
    if (!m) continue;
    const entry = invocations.get(m[1] as string) ?? { count: 0, ms: 0 };
    entry.count += 1;
    entry.ms += Number(m[2]);
    invocations.set(m[1] as string, entry);
  }
  return invocations;
}

async function measure(since: Mark): Promise<Measured> {
  const { events } = await journal(since.journal);
  const m: Measured = { reads: 0, creates: 0, updates: 0, deletes: 0, refusedWrites: 0, indexEntries: 0, invocations: invocationsOf(logSince(since.log)), enqueued: 0, enqueueRefused: 0, taskDeliveries: 0, byCaller: new Map(), hottest: [], writtenPaths: new Set() };
  const writes: Array<{ path: string; t: number }> = [];
  const of = (caller: string) => {
    const entry = m.byCaller.get(caller) ?? { reads: 0, writes: 0, deletes: 0 };
    m.byCaller.set(caller, entry);
    return entry;
  };
  for (const e of events) {
    if (e.kind === "read") {
      m.reads += e.documents;
      of(e.caller).reads += e.documents;
    } else if (e.kind === "aggregation") {
      const reads = Math.max(1, Math.ceil(e.entries / 1000));
      m.reads += reads;
      of(e.caller).reads += reads;
    } else if (e.kind === "failed-write") {
      m.refusedWrites += e.writes;
    } else if (e.kind === "task") {
      if (e.status >= 200 && e.status < 300) m.enqueued += 1;
      else m.enqueueRefused += 1;
    } else if (e.op === "delete") {
      m.deletes += 1;
      of(e.caller).deletes += 1;
    } else {
      if (e.op === "create") m.creates += 1;
      else m.updates += 1;
      of(e.caller).writes += 1;
      m.indexEntries += entriesWritten(e.path, e.leaves, e.op === "update" || e.op === "transform");
      writes.push({ path: e.path, t: e.t });
      m.writtenPaths.add(e.path);
    }
  }
  for (const [name, { count }] of m.invocations) if (TASK_FUNCTIONS.has(name)) m.taskDeliveries += count;
  m.hottest = hottest(writes, 5);
  return m;
}

interface Storage {
  documents: number;
  documentBytes: number;
  indexEntries: number;
  indexBytes: number;
}

/** Every document under the message, and the other documents the send wrote (metrics), sized as Firestore stores them. */
async function storage(message: DocumentReference, written: Set<string>): Promise<Storage> {
  const refs: DocumentReference[] = [message];
  for (const sub of await message.listCollections()) refs.push(...(await sub.listDocuments()));
  for (const path of written) if (!path.startsWith(`${message.path}/`) && path !== message.path && !path.startsWith("devices/")) refs.push(adminDb().doc(path));
  const total: Storage = { documents: 0, documentBytes: 0, indexEntries: 0, indexBytes: 0 };
  for (let i = 0; i < refs.length; i += 500) {
    for (const snapshot of await adminDb().getAll(...refs.slice(i, i + 500))) {
      const data = snapshot.data();
      if (!data) continue;
      const size = storedSize(snapshot.ref.path, data);
      total.documents += 1;
      total.documentBytes += size.documentBytes;
      total.indexEntries += size.indexEntries;
      total.indexBytes += size.indexBytes;
    }
  }
  return total;
}

/** Recipients of the message with a final status, from its outcome counters. */
async function finalCount(message: DocumentReference): Promise<number> {
  let final = 0;
  for (const doc of (await message.collection("counters").get()).docs) for (const n of Object.values((doc.get("counts") ?? {}) as Record<string, number>)) final += n;
  return final;
}

interface SendCost {
  label: string;
  devices: number;
  messageId: string;
  send: Measured;
  stored: Storage;
  cleanup: Measured;
  left: Storage;
  seconds: number;
}

/** One send through sendMessage, measured from the call until the stack is quiet; then its cleanup by the sweep. */
async function sendAndMeasure(label: string, audience: unknown, devices: number): Promise<SendCost> {
  const staff = await signedInUser({ pushSender: true });
  const before = await mark();
  const started = Date.now();
  const { messageId } = await staff.call<{ messageId: string }>("sendMessage", { title: "Cost", body: `${label}: what it costs`, audience }, 540_000);
  await staff.close();
  const message = adminDb().collection("messages").doc(messageId);
  await waitFor(`${label}: every recipient final`, async () => {
    const snapshot = await message.get();
    const count = snapshot.get("recipientCount") as number | null;
    if (typeof count !== "number" || !snapshot.get("recipientsWrittenAt")) return undefined;
    return (await finalCount(message)) >= count ? true : undefined;
  }, 30 * 60_000, 500);
  await untilQuiet(before);
  const seconds = (Date.now() - started - QUIET_MS) / 1000;
  const send = await measure(before);
  const stored = await storage(message, send.writtenPaths);

  const retention = stackParam("MESSAGE_RETENTION_DAYS");
  await message.update({ createdAt: Timestamp.fromMillis(Date.now() - (retention + 1) * 86_400_000) });
  const sweepStarted = await mark();
  const res = await triggerScheduledSweep(stackEnv("FUNCTIONS_EMULATOR_ORIGIN"), PROJECT_ID);
  if (!res.ok) throw new Error(`the sweep answered HTTP ${res.status}`);
  await untilQuiet(sweepStarted);
  const cleanup = await measure(sweepStarted);
  const left = await storage(message, send.writtenPaths);
  return { label, devices, messageId, send, stored, cleanup, left, seconds };
}

/** Starts the worker processes of the send path, so that their start is not in the figures. */
async function warmUp(): Promise<void> {
  const warm = randomUUID();
  await seedDevices(Array.from({ length: 32 }, () => ({ deviceId: randomBytes(12).toString("base64url"), attributes: { costWarmUp: warm } })));
  const staff = await signedInUser({ pushSender: true });
  const { messageId } = await staff.call<{ messageId: string }>("sendMessage", { title: "Warm-up", body: "A small broadcast", audience: { where: { costWarmUp: warm } } });
  await staff.close();
  const message = adminDb().collection("messages").doc(messageId);
  await waitFor("the warm-up", async () => ((await finalCount(message)) >= 32 ? true : undefined), 120_000, 250);
  await untilQuiet(await mark());
}

interface Dollars {
  firestore: number;
  compute: number;
  requests: number;
  tasks: number;
  retention: number;
  cleanup: number;
}

/** Compute at the emulator's time (an upper bound), one vCPU and 0.5 GiB per invocation-second. */
function computeDollars(m: Measured): { compute: number; requests: number } {
  const invocations = [...m.invocations.values()];
  const seconds = invocations.reduce((sum, i) => sum + i.ms, 0) / 1000;
  return {
    compute: seconds * (FUNCTION_SIZE.vcpu * PRICES.run.vcpuSecond + FUNCTION_SIZE.gib * PRICES.run.gibSecond),
    requests: invocations.reduce((sum, i) => sum + i.count, 0) * PRICES.run.request,
  };
}

function dollars(m: Measured, stored: Storage, cleanup: Measured, location: keyof typeof PRICES.firestore): Dollars {
  const fs = PRICES.firestore[location];
  const ops = (x: Measured) => x.reads * fs.read + (x.creates + x.updates) * fs.write + x.deletes * fs.delete;
  const sweep = computeDollars(cleanup);
  return {
    firestore: ops(m),
    ...computeDollars(m),
    tasks: (m.enqueued + m.enqueueRefused + m.taskDeliveries) * PRICES.tasks.operation,
    // The bytes stay for MESSAGE_RETENTION_DAYS, billed by the GiB-month (a month taken as 30 days).
    retention: ((stored.documentBytes + stored.indexBytes) / 2 ** 30) * fs.gibMonth * (stackParam("MESSAGE_RETENTION_DAYS") / 30),
    cleanup: ops(cleanup) + sweep.compute + sweep.requests,
  };
}

function row(name: string, value: number, scale: number, digits = 0): string {
  const fmt = (n: number) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return `  ${name.padEnd(44)}${fmt(value).padStart(14)}${scale === 1 ? "" : fmt(value * scale).padStart(18)}`;
}

function report(cost: SendCost, scaleTo: number | null): void {
  const scale = scaleTo ? scaleTo / cost.devices : 1;
  const { send, stored, cleanup, left } = cost;
  const invocations = [...send.invocations].sort((a, b) => b[1].count - a[1].count);
  const header = scaleTo ? `${"per send".padStart(14)}${`per ${scaleTo.toLocaleString("en-US")}`.padStart(18)}` : "per send".padStart(14);
  console.log(`\n${cost.label}: ${cost.devices.toLocaleString("en-US")} device(s), message ${cost.messageId}, quiet ${cost.seconds.toFixed(1)} s after the call`);
  console.log(`  ${"".padEnd(44)}${header}`);
  const lines = [
    row("Firestore document reads", send.reads, scale),
    row("Firestore writes: creates", send.creates, scale),
    row("Firestore writes: updates (sets, transforms)", send.updates, scale),
    row("Firestore deletes", send.deletes, scale),
    row("commits refused by the emulator (not billed)", send.refusedWrites, scale),
    row("index entries written", send.indexEntries, scale),
    row("function invocations", invocations.reduce((s, [, i]) => s + i.count, 0), scale),
    row("function time, s (emulator)", invocations.reduce((s, [, i]) => s + i.ms, 0) / 1000, scale, 1),
    row("Cloud Tasks enqueued", send.enqueued, scale),
    row("Cloud Tasks enqueues refused (exists)", send.enqueueRefused, scale),
    row("Cloud Tasks deliveries", send.taskDeliveries, scale),
    row(`stored after the send: documents`, stored.documents, scale),
    row(`stored after the send: bytes (documents)`, stored.documentBytes, scale),
    row(`stored after the send: index entries`, stored.indexEntries, scale),
    row(`stored after the send: bytes (index entries)`, stored.indexBytes, scale),
    row("cleanup (one sweep): reads", cleanup.reads, scale),
    row("cleanup (one sweep): deletes", cleanup.deletes, scale),
    row("cleanup (one sweep): writes", cleanup.creates + cleanup.updates, scale),
    row("stored after cleanup: bytes (docs + indexes)", left.documentBytes + left.indexBytes, scale),
  ];
  console.log(lines.join("\n"));
  for (const location of ["us-central1", "nam5"] as const) {
    const usd = dollars(send, stored, cleanup, location);
    const fmt = (n: number) => `$${(n * scale).toFixed(scaleTo ? 4 : 8)}`;
    const sendTime = usd.firestore + usd.requests + usd.tasks;
    console.log(
      `  dollars${scaleTo ? ` per ${scaleTo.toLocaleString("en-US")}` : ""}, Firestore in ${location}: Firestore ops ${fmt(usd.firestore)} + invocations ${fmt(usd.requests)} + Cloud Tasks ${fmt(usd.tasks)} = send ${fmt(sendTime)};` +
        ` ${stackParam("MESSAGE_RETENTION_DAYS")} days stored ${fmt(usd.retention)}; cleanup ${fmt(usd.cleanup)}; all-in ${fmt(sendTime + usd.retention + usd.cleanup)}` +
        ` (+ compute at emulator time, an upper bound: ${fmt(usd.compute)})`,
    );
  }
  console.log("  invocations per function (count, emulator time):");
  for (const [name, i] of invocations) console.log(`    ${name.padEnd(24)}${String(i.count).padStart(8)}${`${(i.ms / 1000).toFixed(1)} s`.padStart(12)}`);
  console.log("  Firestore per function (reads / writes / deletes):");
  for (const [name, c] of [...send.byCaller].sort((a, b) => b[1].reads + b[1].writes - (a[1].reads + a[1].writes))) console.log(`    ${name.padEnd(24)}${String(c.reads).padStart(8)}${String(c.writes).padStart(8)}${String(c.deletes).padStart(8)}`);
  console.log("  hottest documents (most writes within one second):");
  for (const h of send.hottest) console.log(`    ${String(h.perSecond).padStart(5)}/s  ${h.path}`);
}

await warmUp();
const tag = randomUUID().slice(0, 8);
for (let i = 0; i < DEVICES; i += 5000) {
  await seedDevices(Array.from({ length: Math.min(5000, DEVICES - i) }, (_, j) => ({ deviceId: randomBytes(12).toString("base64url"), token: `ok-cost-${tag}-${i + j}`, attributes: { cost: tag } })));
}
const singleUser = `user-${randomUUID()}`;
await seedDevices([{ userId: singleUser, token: `ok-cost-single-${tag}` }]);

const broadcast = await sendAndMeasure(`broadcast (where cost == ${tag})`, { where: { cost: tag } }, DEVICES);
const single = await sendAndMeasure("single send (users: [one user with one device])", { users: [singleUser] }, 1);
report(broadcast, 1_000_000);
report(single, null);
process.exit(0);
