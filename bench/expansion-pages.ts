/**
 * `npm run bench:expansion`: how fast one expansion part reads its devices,
 * three ways, on the local stack. Seeds EXPANSION_BENCH_SIZES (10,000 then
 * 100,000 in all) devices with hash-like ids, then over one part's id range
 * (one of EXPANSION_PARTS, 8) measures:
 *   (a) pages of 500: retired == false, enabled == true, ordered by id,
 *       bounded by the range, startAfter the last id (the first design);
 *   (b) pages of 500 bounded by the id range only, the filters in code;
 *   (c) one stream over the range, no limit, filters in code, each device's
 *       recipient written as it comes by a BulkWriter (to a scratch
 *       collection no trigger watches), the cursor checkpointed every
 *       EXPANSION_CHECKPOINT devices — what a part task does.
 * (a) and (b) stop after EXPANSION_BENCH_PAGES pages (4) or 60 s per page.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { FieldPath, type Query } from "firebase-admin/firestore";
import { idRanges } from "../functions/src/sending/parts.ts";
import { recipientIdFor } from "../functions/src/sending/recipients.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { seedDevices } from "../tools/lib/fixtures.ts";

const SIZES = (process.env.EXPANSION_BENCH_SIZES ?? "10000,100000").split(",").filter(Boolean).map(Number);
const PARTS = Number(process.env.EXPANSION_PARTS ?? 8);
const MAX_PAGES = Number(process.env.EXPANSION_BENCH_PAGES ?? 4);
const CHECKPOINT = Number(process.env.EXPANSION_CHECKPOINT ?? 500);
const PAGE = 500;

const db = adminDb();
const devices = db.collection("devices");
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function seed(count: number): Promise<void> {
  const chunk = 5000;
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < count) {
        const n = Math.min(chunk, count - next);
        next += n;
        // One in twenty disabled, one in twenty retired: the filters have something to drop.
        await seedDevices(Array.from({ length: n }, (_, j) => ({ deviceId: randomBytes(12).toString("base64url"), token: `ok-xbench-${randomUUID()}`, enabled: j % 20 !== 0, retired: j % 20 === 1 })));
      }
    }),
  );
}

function ranged(query: Query, range: { from?: string; to?: string }): Query {
  let q = query;
  if (range.from !== undefined) q = q.where(FieldPath.documentId(), ">=", range.from);
  if (range.to !== undefined) q = q.where(FieldPath.documentId(), "<", range.to);
  return q.orderBy(FieldPath.documentId());
}

/** Pages of `query` from the start of the range; returns ms per page and the devices kept. */
async function paged(name: string, query: Query, keep: (doc: FirebaseFirestore.QueryDocumentSnapshot) => boolean): Promise<void> {
  const times: number[] = [];
  let cursor: string | undefined;
  let kept = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const started = performance.now();
    const snapshot = await (cursor === undefined ? query : query.startAfter(cursor)).limit(PAGE).get();
    const ms = performance.now() - started;
    times.push(ms);
    kept += snapshot.docs.filter(keep).length;
    cursor = snapshot.docs[snapshot.size - 1]?.id;
    if (snapshot.size < PAGE || ms > 60_000) break;
  }
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  console.log(`  ${name}: ${times.length} pages, ${s(mean)} per page (first ${s(times[0] ?? NaN)}, max ${s(Math.max(...times))}), ${kept} live devices`);
}

/** (c): the whole range in one stream, writing as it reads, checkpointing the cursor. */
async function streamed(range: { from?: string; to?: string }, write: boolean): Promise<void> {
  const scratch = db.collection("benchScratch").doc(randomUUID());
  const writer = db.bulkWriter();
  const started = performance.now();
  let read = 0;
  let kept = 0;
  let first = NaN;
  for await (const raw of ranged(devices, range).stream()) {
    const doc = raw as unknown as FirebaseFirestore.QueryDocumentSnapshot;
    if (Number.isNaN(first)) first = performance.now() - started;
    read += 1;
    if (doc.get("retired") !== false || doc.get("enabled") !== true) continue;
    kept += 1;
    if (write) void writer.create(scratch.collection("recipients").doc(recipientIdFor(doc.id)), { deviceId: doc.id, userId: doc.get("userId") as string, status: -1, statusMessage: null, attempts: 0 });
    if (write && kept % CHECKPOINT === 0) {
      await writer.flush();
      await scratch.set({ cursor: doc.id, written: kept });
    }
  }
  await writer.close();
  const ms = performance.now() - started;
  console.log(`  (c) stream${write ? " + BulkWriter writes + checkpoint every " + CHECKPOINT : ", read only"}: ${read} read, ${kept} live in ${s(ms)} (first device after ${s(first)}) = ${s((ms / Math.max(1, kept)) * PAGE)} per 500 live devices`);
}

let seeded = 0;
for (const size of SIZES) {
  const started = performance.now();
  await seed(size - seeded);
  seeded = size;
  console.log(`${size} devices in all (seeded in ${s(performance.now() - started)}); one part of ${PARTS}:`);
  const range = idRanges(PARTS)[Math.floor(PARTS / 2)] ?? {};
  await paged("(a) retired/enabled filters + id order, pages of 500", ranged(devices.where("retired", "==", false).where("enabled", "==", true), range), () => true);
  await paged("(b) id range only, pages of 500, filters in code", ranged(devices, range), (doc) => doc.get("retired") === false && doc.get("enabled") === true);
  await streamed(range, false);
  await streamed(range, true);
}
