/**
 * Generated bad input for every entry point: each callable, each `/v1/…`
 * route of the partner API and each AirNotifier-compatible endpoint a Moodle
 * site calls (through Hosting). From a description of each entry point's
 * schema (the zod schemas in functions/src), every field is removed, retyped,
 * emptied, oversized and poisoned (`__proto__`, NUL, deep nesting), document
 * ids get `a/b`, `..`, `.`, `__x__`, 1,600-byte and blank values, and
 * fast-check adds random invalid values on top (seeded: the seed is printed,
 * and `FUZZ_SEED=<n>` replays a run).
 *
 * Every case must be refused clearly — a callable with `invalid-argument`
 * naming the field (or `unauthenticated` / `permission-denied` / `not-found` /
 * `failed-precondition` where that is the truth), the API with a 4xx and its
 * JSON error body, Moodle's endpoints with AirNotifier's 4xx `{ error }` —
 * never a 5xx or `internal`, never a stack trace, within 5 s; and nothing may
 * be written: the collections are compared before and after each entry
 * point's batch. The file prints a table: entry point | cases | refused | max ms | p95 ms.
 */
import assert from "node:assert/strict";
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { getAuth } from "firebase/auth";
import type { DocumentSnapshot } from "firebase-admin/firestore";
import { userAttributesId } from "../functions/src/devices/attributes.ts";
import { createKey } from "../functions/src/keys/service.ts";
import { setDeliveryPaused } from "../functions/src/ops/stop.ts";
import type { KeyScope } from "../functions/src/shared/contract.ts";
import { adminDb } from "../tools/lib/admin.ts";
import { emulatorAppCheckToken } from "../tools/lib/appCheck.ts";
import { signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { stackEnv } from "../tools/lib/env.ts";
import { createMessage, seedDevices } from "../tools/lib/fixtures.ts";
import { waitFor } from "../tools/lib/wait.ts";

const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : randomInt(1, 2 ** 31);
/** Random cases fast-check adds to the systematic ones, per entry point. */
const RANDOM_CASES = 12;
const CASE_LIMIT_MS = 5_000;
/** Requests one key makes before the next key takes over: the local API rate is 30 a minute per key (functions/.env.demo-push). */
const REQUESTS_PER_KEY = 25;
const MOODLE_APP_NAME = "commoodlemoodlemobile";

// ------------------------------------------------------------------ schemas

/** What a field holds, as far as generating bad values goes (mirrors the zod schemas). */
type Kind =
  | { t: "docId" } // deviceId, messageId: 8–128 (or 1–128) of [A-Za-z0-9_-], used as document ids
  | { t: "text"; max: number; min?: number; nulOk?: boolean; format?: "locale" | "timezone" | "url" | "idempotencyKey" | "category" | "trimmed" }
  | { t: "token" }
  | { t: "bool" }
  | { t: "int"; min: number; max: number }
  | { t: "enum"; values: string[] }
  | { t: "strMap" }
  | { t: "userInfo" }
  | { t: "attributes" }
  | { t: "list"; item: Kind; max: number; min: number }
  | { t: "audience" }
  | { t: "datetime" }
  | { t: "vars" }
  | { t: "badge" };

interface Field {
  name: string;
  required: boolean;
  kind: Kind;
}

/** A JSON value with an own `__proto__` key (an object literal would set the prototype instead). */
const protoPoison = () => JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": {"prototype": {"polluted": "yes"}}}') as unknown;
const deepNesting = (depth: number) => JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`) as unknown;
const deepObject = (depth: number) => JSON.parse(`${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`) as unknown;

type Bad = [label: string, value: unknown];

/** Values of other JSON types than the field's, poison included. */
function retyped(kind: Kind): Bad[] {
  const all: Bad[] = [
    ["a number", 42],
    ["true", true],
    ["null", null],
    ["a string", "text"],
    ["an array", ["x"]],
    ["an object", { x: "y" }],
    ["an own __proto__ object", protoPoison()],
    ["2,000-deep nested arrays", deepNesting(2000)],
    ["200-deep nested objects", deepObject(200)],
    // The callable protocol's typed values: firebase-functions' decoder throws on these before any code of ours runs.
    ["a typed value of an unknown @type", { "@type": "type.googleapis.com/google.protobuf.Any", value: "x" }],
    ["a 64-bit integer that is not a number", { "@type": "type.googleapis.com/google.protobuf.Int64Value", value: "ten" }],
  ];
  const stringy = ["docId", "text", "token", "enum", "datetime"].includes(kind.t);
  return all.filter(([label, value]) => {
    if (stringy) return typeof value !== "string";
    if (kind.t === "bool") return typeof value !== "boolean";
    if (kind.t === "int" || kind.t === "badge") return typeof value !== "number";
    // ["x"] is a valid list of strings, { x: "y" } a valid map of strings.
    if (kind.t === "list") return label !== "an array";
    // { x: "y" } is a valid map of strings, and so is a typed value's { "@type": "…", value: "…" } outside the callable protocol.
    if (kind.t === "strMap" || kind.t === "userInfo" || kind.t === "attributes") return label !== "an object" && !label.startsWith("a typed value") && !label.startsWith("a 64-bit");
    return true;
  });
}

const ID_POISON: Bad[] = [
  ["a/b", "abcd/efgh"],
  ["..", ".."],
  [".", "."],
  ["__x__", "__x__"],
  ["__abcdefgh__", "__abcdefgh__"],
  ["1,600 bytes", "é".repeat(800)],
  ["1,600 ASCII characters", "a".repeat(1600)],
  ["blank", "        "],
  ["empty", ""],
  ["NUL inside", "abcd\u0000efgh"],
  ["a newline", "abcdefgh\n"],
];

/** The field's own type, but values its schema refuses. */
function outOfRange(kind: Kind): Bad[] {
  switch (kind.t) {
    case "docId":
      return ID_POISON;
    case "token":
      return [["empty", ""], ["7 characters", "ok-1234"], ["1,025 characters", "t".repeat(1025)], ["a space", "ok-fuzz token"], ["NUL inside", "ok-fuzz\u0000token"], ["a tab", "ok-fuzz\ttoken"]];
    case "text": {
      const out: Bad[] = [["oversized", "x".repeat(kind.max + 1)], ["oversized multi-byte", "é".repeat(kind.max + 1)]];
      if ((kind.min ?? 1) > 0) out.push(["empty", ""]);
      if (!kind.nulOk) out.push(["NUL inside", "ab\u0000cd"]);
      if (kind.format === "locale") out.push(["not a BCP 47 tag", "english please"], ["a UTC offset", "+05:00"]);
      if (kind.format === "timezone") out.push(["not an IANA zone", "Mars/Olympus_Mons"], ["a UTC offset", "+05:00"]);
      if (kind.format === "url") out.push(["not a URL", "not a url"], ["a relative path", "/images/a.png"]);
      if (kind.format === "idempotencyKey") out.push(["a space", "key with space"], ["non-ASCII", "clé"]);
      if (kind.format === "category") out.push(["a space", "school news"], ["a leading dot", ".news"], ["a slash", "news/today"]);
      if (kind.format === "trimmed") out.push(["blank", "     "]);
      return out;
    }
    case "enum":
      return [["empty", ""], ["upper case", kind.values[0]!.toUpperCase()], ["NUL suffix", `${kind.values[0]}\u0000`], ["unknown", "blackberry"]];
    case "int":
      return [["below the minimum", kind.min - 1], ["above the maximum", kind.max + 1], ["a fraction", kind.min + 0.5], ["a numeric string", String(kind.min + 1)], ["1e300", 1e300]];
    case "badge":
      return [["negative", -1], ["a fraction", 1.5], ["100000", 100000], ["another word", "decrement"]];
    case "bool":
      return [["\"true\"", "true"], ["1", 1], ["0", 0]];
    case "strMap":
      return [
        ["a number value", { k: 5 }],
        ["a null value", { k: null }],
        ["an empty key", { "": "v" }],
        ["a reserved key", { messageId: "x" }],
        ["a 4,097-character value", { k: "v".repeat(4097) }],
        ["a 257-character key", { ["k".repeat(257)]: "v" }],
        ["a nested map", { k: { deeper: "v" } }],
      ];
    case "userInfo":
      return [
        ["a key starting with a digit", { "1grade": 9 }],
        ["a key with a dot", { "a.b": 1 }],
        ["a nested value", { grade: { n: 9 } }],
        ["a null value", { grade: null }],
        ["21 entries", Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i]))],
        ["a 257-character value", { school: "s".repeat(257) }],
      ];
    case "attributes":
      // null is a value here: it removes the attribute.
      return [
        ["a key starting with a digit", { "1grade": 9 }],
        ["a key with a dot", { "a.b": 1 }],
        ["a key __proto__-like", { __role: "teacher" }],
        ["a nested value", { role: { is: "teacher" } }],
        ["an array value", { role: ["teacher"] }],
        ["21 entries", Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i]))],
        ["a 257-character value", { school: "s".repeat(257) }],
      ];
    case "list":
      return [
        ["too many entries", Array.from({ length: kind.max + 1 }, (_, i) => `item-${String(i).padStart(8, "0")}`)],
        ...(kind.min > 0 ? [["empty", []] as Bad] : []),
        ...outOfRange(kind.item).slice(0, 6).map(([label, value]): Bad => [`an entry ${label}`, [value]]),
        ["a number entry", [42]],
        ["an object entry", [{ x: 1 }]],
      ];
    case "audience":
      return [
        ["empty", {}],
        ["no users", { users: [] }],
        ["a blank user", { users: [""] }],
        ["1,001 users", { users: Array.from({ length: 1001 }, (_, i) => `user-${i}`) }],
        ["a device id a/b", { devices: ["abcd/efgh"] }],
        ["a device id __x__", { devices: ["__abcdefgh__"] }],
        ["a 1,600-byte device id", { devices: ["é".repeat(800)] }],
        ["all: false", { all: false }],
        ["all: \"true\"", { all: "true" }],
        ["two kinds at once", { all: true, users: ["u1"] }],
        ["an empty where", { where: {} }],
        ["where with a bad match", { where: { grade: 9 }, match: "some" }],
        ["where with 11 pairs", { where: Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, i])) }],
        ["where with a nested value", { where: { grade: { $gt: 8 } } }],
        ["an unknown kind", { everyone: true }],
      ];
    case "datetime":
      return [["words", "tomorrow morning"], ["month 13", "2030-13-01T08:00:00Z"], ["no time zone", "2030-01-01T08:00:00"], ["40 days ahead", new Date(Date.now() + 40 * 86_400_000).toISOString()], ["empty", ""]];
    case "vars":
      return [
        ["a user mapped to a string", { u1: "Kim" }],
        ["a bad placeholder name", { u1: { "first name": "Kim" } }],
        ["a nested value", { u1: { name: { first: "Kim" } } }],
        ["a 1,025-character value", { u1: { name: "k".repeat(1025) } }],
        ["a blank user id", { "": { name: "Kim" } }],
      ];
  }
}

/** A fast-check arbitrary of values this field's schema refuses (checked against `isBad`). */
function randomBad(kind: Kind): fc.Arbitrary<unknown> {
  const wrongType = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }));
  switch (kind.t) {
    case "docId":
      return fc.oneof(wrongType, fc.string({ unit: "grapheme", maxLength: 40 }).filter((s) => !/^[A-Za-z0-9_-]{1,128}$/.test(s)), fc.string({ minLength: 129, maxLength: 400, unit: fc.constantFrom("a", "b", "_", "-") }));
    case "token":
      return fc.oneof(wrongType, fc.string({ maxLength: 7 }), fc.string({ minLength: 1025, maxLength: 1100 }), fc.tuple(fc.string({ minLength: 4, maxLength: 10 }), fc.constantFrom(" ", "\t", "\n", "\u0000")).map(([s, c]) => `ok-${s}${c}x`));
    case "text":
      // A field that is trimmed first is only too long if it still is once trimmed.
      return fc.oneof(wrongType, fc.string({ minLength: kind.max + 1, maxLength: kind.max + 40 }).filter((s) => kind.format !== "trimmed" || s.trim().length > kind.max));
    case "enum":
      return fc.oneof(wrongType, fc.string({ maxLength: 10 }).filter((s) => !kind.values.includes(s)));
    case "int":
      return fc.oneof(
        fc.string(),
        fc.boolean(),
        fc.integer({ min: kind.max + 1 }),
        fc.integer({ max: kind.min - 1 }),
        fc.double({ min: kind.min, max: kind.max, noNaN: true }).filter((n) => !Number.isInteger(n)),
      );
    case "bool":
      return fc.oneof(fc.integer(), fc.string(), fc.constant(null), fc.array(fc.boolean(), { maxLength: 2 }));
    case "badge":
      // "increment" or a whole number from 0 to 99999 is a badge; anything else is not.
      return fc.oneof(
        fc.integer({ max: -1 }),
        fc.integer({ min: 100_000 }),
        fc.double({ min: 0, max: 99_999, noNaN: true }).filter((n) => !Number.isInteger(n)),
        fc.string().filter((s) => s !== "increment"),
        fc.boolean(),
        fc.array(fc.integer(), { minLength: 1, maxLength: 3 }),
      );
    default:
      return fc.oneof(fc.integer(), fc.boolean(), fc.string({ minLength: 1 }), fc.array(fc.integer(), { minLength: 1, maxLength: 3 }));
  }
}

interface Case {
  label: string;
  /** The request data (callables, JSON bodies) or the path id (id routes). */
  input: unknown;
  /** The field the refusal must name, when it is an invalid-argument. */
  field?: string;
  /** The answer that is the truth for this case (by default invalid-argument). */
  expect?: string;
  as?: "signedOut" | "user" | "sender";
  /** A body sent as written, not as JSON. */
  raw?: string;
}

/**
 * Every field removed (when required), retyped, emptied, oversized, poisoned;
 * unknown fields (own `__proto__` among them); the whole input retyped; then
 * RANDOM_CASES values from fast-check, seeded per entry point.
 */
function casesFor(base: Record<string, unknown>, fields: Field[], salt: number): Case[] {
  const cases: Case[] = [];
  const withField = (name: string, value: unknown) => ({ ...base, [name]: value });
  for (const field of fields) {
    if (field.required) {
      const { [field.name]: _removed, ...rest } = base;
      cases.push({ label: `${field.name} removed`, input: rest, field: field.name });
    }
    for (const [label, value] of [...retyped(field.kind), ...outOfRange(field.kind)]) {
      cases.push({ label: `${field.name} ${label}`, input: withField(field.name, value), field: field.name });
    }
  }
  const copy = () => JSON.parse(JSON.stringify(base)) as Record<string, unknown>;
  const ownProto = copy();
  // An own "__proto__" key, as JSON.parse makes one (assigning it would set the prototype instead).
  Object.defineProperty(ownProto, "__proto__", { value: { polluted: "yes" }, enumerable: true, configurable: true, writable: true });
  cases.push(
    { label: "an unknown field", input: { ...copy(), unexpected: 1 }, field: "unexpected" },
    { label: "an own __proto__ field", input: ownProto, field: "__proto__" },
    { label: "a constructor field", input: { ...copy(), constructor: { prototype: { polluted: "yes" } } }, field: "constructor" },
    { label: "a field named with a NUL", input: { ...copy(), "a\u0000b": 1 } },
    { label: "a 1,600-byte field name", input: { ...copy(), ["é".repeat(800)]: 1 } },
  );
  for (const [label, root] of [["the input a string", "text"], ["the input a number", 42], ["the input an array", [base]], ["the input true", true]] as const) {
    cases.push({ label, input: root });
  }
  const withFields = fields.filter((f) => f.kind.t !== "audience" && f.kind.t !== "vars");
  if (withFields.length > 0) {
    const arbitrary = fc.constantFrom(...withFields).chain((field) => randomBad(field.kind).map((value) => ({ field, value })));
    for (const { field, value } of fc.sample(arbitrary, { seed: SEED + salt, numRuns: RANDOM_CASES })) {
      cases.push({ label: `${field.name} random ${JSON.stringify(value)?.slice(0, 40)}`, input: withField(field.name, value), field: field.name });
    }
  } else {
    const keys = fc.string({ unit: "grapheme", minLength: 1, maxLength: 30 }).filter((k) => k !== "__proto__");
    for (const [key, value] of fc.sample(fc.tuple(keys, fc.jsonValue({ maxDepth: 3 })), { seed: SEED + salt, numRuns: RANDOM_CASES + 10 })) {
      cases.push({ label: `random field ${JSON.stringify(key)}`, input: { ...base, [key]: value }, field: key });
    }
  }
  return cases;
}

// ---------------------------------------------------------------- the calls

interface Answer {
  status: number;
  text: string;
  body: unknown;
  ms: number;
}

async function post(url: string, init: RequestInit): Promise<Answer> {
  const started = performance.now();
  const res = await fetch(url, init);
  const text = await res.text();
  const ms = performance.now() - started;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, text, body, ms };
}

const STACK_TRACE = /\n\s+at\s|\bat\s[\w.<>]+\s\(\S+:\d+:\d+\)|node_modules|\.ts:\d+/;

/** What is wrong with an answer, or undefined when it is a clear refusal of the expected kind. */
type Judge = (answer: Answer, c: Case) => string | undefined;

function common(answer: Answer): string | undefined {
  if (answer.status < 400 || answer.status >= 500) return `status ${answer.status}`;
  if (STACK_TRACE.test(answer.text)) return "a stack trace in the body";
  if (answer.ms > CASE_LIMIT_MS) return `answered in ${Math.round(answer.ms)} ms`;
  return undefined;
}

const callableStatus = (code: string) => code.toUpperCase().replace(/-/g, "_");

const judgeCallable: Judge = (answer, c) => {
  const problem = common(answer);
  if (problem) return problem;
  const error = (answer.body as { error?: { status?: string; message?: string; details?: { field?: unknown } } } | undefined)?.error;
  const expected = c.expect ?? "invalid-argument";
  if (error?.status !== callableStatus(expected)) return `expected ${expected}, got ${error?.status ?? answer.text.slice(0, 80)}`;
  if (!error.message) return "no message";
  if (expected === "invalid-argument") {
    const field = error.details?.field;
    if (typeof field !== "string") return "no details.field";
    if (c.field !== undefined && c.field !== "" && field !== c.field && !field.startsWith(`${c.field}.`)) return `details.field "${field}", expected "${c.field}"`;
  }
  return undefined;
};

const judgeApi =
  (accept: string[] = ["invalid-argument"]): Judge =>
  (answer, c) => {
    const problem = common(answer);
    if (problem) return problem;
    const error = (answer.body as { error?: { code?: string; message?: string; field?: unknown } } | undefined)?.error;
    if (typeof error?.code !== "string" || typeof error.message !== "string") return `no JSON error body: ${answer.text.slice(0, 80)}`;
    const codes = c.expect ? [c.expect] : accept;
    if (!codes.includes(error.code)) return `expected ${codes.join(" or ")}, got ${error.code} (${error.message})`;
    if (error.code === "invalid-argument" && c.field !== undefined && c.field !== "") {
      if (typeof error.field !== "string" || (error.field !== c.field && !error.field.startsWith(`${c.field}.`))) return `field ${String(error.field)}, expected ${c.field}`;
    }
    return undefined;
  };

const judgeMoodle =
  (texts: string[]): Judge =>
  (answer, c) => {
    const problem = common(answer);
    if (problem) return problem;
    const error = (answer.body as { error?: unknown } | undefined)?.error;
    if (typeof error !== "string" || error === "") return `no { error } body: ${answer.text.slice(0, 80)}`;
    const wanted = c.expect ? [c.expect] : texts;
    if (!wanted.some((t) => error.startsWith(t))) return `error "${error.slice(0, 60)}", expected ${wanted.join(" / ")}`;
    return undefined;
  };

// --------------------------------------------------------------- snapshots

interface Watched {
  users: string[];
  devices: string[];
  messages: string[];
}

const describeDoc = (doc: DocumentSnapshot) => ({ path: doc.ref.path, exists: doc.exists, updateTime: doc.updateTime?.toMillis() ?? null, data: doc.data() });

/**
 * What an entry point could have written: the number of documents in every
 * collection (and in every message's recipients and counters), and in full
 * the documents the cases name or could change — the fixtures' devices,
 * messages and their recipients, the fuzz users' devices, preferences,
 * attributes and messages, every access key and the emergency stop. `apiGuards` is left
 * out on purpose: its counters count refused requests by design (failed
 * authentications, a key's requests per minute), which is what guards do.
 */
async function snapshot(watched: Watched): Promise<unknown> {
  const db = adminDb();
  const counts: Record<string, number> = {};
  for (const name of ["devices", "messages", "accessKeys", "preferences", "userAttributes", "metrics", "ops"]) counts[name] = (await db.collection(name).count().get()).data().count;
  for (const group of ["recipients", "counters"]) counts[`*/${group}`] = (await db.collectionGroup(group).count().get()).data().count;
  const docs: ReturnType<typeof describeDoc>[] = [];
  const refs = [
    ...watched.devices.map((id) => db.collection("devices").doc(id)),
    ...watched.messages.map((id) => db.collection("messages").doc(id)),
    ...watched.users.map((uid) => db.collection("preferences").doc(uid)),
    ...watched.users.map((uid) => db.collection("userAttributes").doc(userAttributesId(uid))),
    db.collection("ops").doc("delivery"),
  ];
  docs.push(...(await db.getAll(...refs)).map(describeDoc));
  for (let i = 0; i < watched.users.length; i += 30) {
    const chunk = watched.users.slice(i, i + 30);
    docs.push(...(await db.collection("devices").where("userId", "in", chunk).get()).docs.map(describeDoc));
    docs.push(...(await db.collection("messages").where("senderId", "in", chunk).get()).docs.map(describeDoc));
  }
  for (const id of watched.messages) docs.push(...(await db.collection("messages").doc(id).collection("recipients").get()).docs.map(describeDoc));
  docs.push(...(await db.collection("accessKeys").get()).docs.map(describeDoc));
  docs.sort((a, b) => a.path.localeCompare(b.path));
  return { counts, docs };
}

/** Waits until nothing moves (deliveries left over from earlier suites on a shared stack), then takes the snapshot. */
async function settledSnapshot(watched: Watched): Promise<unknown> {
  let previous = await snapshot(watched);
  return waitFor(
    "the watched collections to stop changing",
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const current = await snapshot(watched);
      const same = JSON.stringify(current) === JSON.stringify(previous);
      previous = current;
      return same ? current : undefined;
    },
    30_000,
    0,
  );
}

// ---------------------------------------------------------------- the suite

interface Row {
  entry: string;
  cases: number;
  refused: number;
  maxMs: number;
  p95Ms: number;
}
const rows: Row[] = [];

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
};

/** Runs one entry point's cases one after another, compares the snapshots, and records its row. */
async function runBatch(entry: string, cases: Case[], send: (c: Case) => Promise<Answer>, judge: Judge, watched: Watched): Promise<void> {
  assert.ok(cases.length >= 30, `${entry}: only ${cases.length} cases`);
  const before = await settledSnapshot(watched);
  const failures: string[] = [];
  const times: number[] = [];
  for (const c of cases) {
    const answer = await send(c);
    times.push(answer.ms);
    const problem = judge(answer, c);
    if (problem) failures.push(`${c.label}: ${problem} — ${answer.status} ${answer.text.slice(0, 160)}`);
  }
  const afterBatch = await snapshot(watched);
  rows.push({ entry, cases: cases.length, refused: cases.length - failures.length, maxMs: Math.round(Math.max(...times)), p95Ms: Math.round(percentile(times, 95)) });
  assert.deepEqual(failures, [], `${entry} (seed ${SEED}): ${failures.length} of ${cases.length} cases not refused as they should be`);
  assert.deepEqual(afterBatch, before, `${entry} (seed ${SEED}): the bad requests changed documents`);
}

const functionsUrl = (name: string) => `${stackEnv("FUNCTIONS_EMULATOR_ORIGIN")}/${stackEnv("GCLOUD_PROJECT")}/us-central1/${name}`;
const newIp = () => `203.0.${randomInt(0, 256)}.${randomInt(1, 255)}`;

describe(`generated bad input (fast-check seed ${SEED}; FUZZ_SEED=${SEED} replays it)`, () => {
  const clients: ClientUser[] = [];
  const tokens: Record<"user" | "sender" | "admin", string> = { user: "", sender: "", admin: "" };
  const uids: Record<"user" | "sender" | "admin" | "other", string> = { user: "", sender: "", admin: "", other: `user-${randomUUID()}` };
  let ownDevice = "";
  let otherDevice = "";
  let ownMessage = "";
  const watched = (): Watched => ({ users: [uids.user, uids.sender, uids.admin, uids.other, ...moodleOwners], devices: [ownDevice, otherDevice], messages: [ownMessage] });
  const moodleOwners: string[] = [];

  before(async () => {
    console.log(`fuzz: fast-check seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
    for (const [role, claims] of [["user", {}], ["sender", { pushSender: true }], ["admin", { pushAdmin: true }]] as const) {
      const client = await signedInUser(claims);
      clients.push(client);
      uids[role] = client.uid as string;
      tokens[role] = await getAuth(client.app).currentUser!.getIdToken();
    }
    const [own, other] = await seedDevices([
      { userId: uids.user, badge: 3, enabled: true },
      { userId: uids.other, token: `ok-other-${randomUUID()}` },
    ]);
    ownDevice = own!.deviceId;
    otherDevice = other!.deviceId;
    ownMessage = await createMessage({ senderId: uids.sender, title: "Fuzz fixture", body: "Never sent: it has no recipients" });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    const table = [
      "| entry point | cases | refused | max ms | p95 ms |",
      "|---|---|---|---|---|",
      ...rows.map((r) => `| ${r.entry} | ${r.cases} | ${r.refused} | ${r.maxMs} | ${r.p95Ms} |`),
      `| **all ${rows.length}** | ${rows.reduce((n, r) => n + r.cases, 0)} | ${rows.reduce((n, r) => n + r.refused, 0)} | ${Math.max(0, ...rows.map((r) => r.maxMs))} | |`,
    ];
    console.log(`\nfuzz figures (seed ${SEED}):\n${table.join("\n")}\n`);
  });

  it("the snapshot sees a write (so a batch that wrote would fail)", async () => {
    const before = await snapshot(watched());
    await adminDb().collection("preferences").doc(uids.user).set({ mutedCategories: ["snapshot-check"] });
    const afterWrite = await snapshot(watched());
    await adminDb().collection("preferences").doc(uids.user).delete();
    assert.notDeepEqual(afterWrite, before);
    assert.deepEqual(await snapshot(watched()), before);
  });

  // ----------------------------------------------------------- callables

  async function callRaw(name: string, data: unknown, as: "signedOut" | keyof typeof tokens): Promise<Answer> {
    const headers: Record<string, string> = { "content-type": "application/json", "x-firebase-appcheck": emulatorAppCheckToken() };
    if (as !== "signedOut") headers.authorization = `Bearer ${tokens[as]}`;
    return post(functionsUrl(name), { method: "POST", headers, body: JSON.stringify({ data }) });
  }

  const text = (max: number, extra: Partial<Extract<Kind, { t: "text" }>> = {}): Kind => ({ t: "text", max, ...extra });
  const deviceFields = (): Field[] => [
    { name: "deviceId", required: true, kind: { t: "docId" } },
    { name: "token", required: true, kind: { t: "token" } },
    { name: "platform", required: true, kind: { t: "enum", values: ["ios", "android", "web"] } },
    { name: "appVersion", required: false, kind: text(64) },
    { name: "osVersion", required: false, kind: text(64) },
    { name: "locale", required: false, kind: text(35, { format: "locale" }) },
    { name: "timezone", required: false, kind: text(64, { format: "timezone" }) },
    { name: "userInfo", required: false, kind: { t: "userInfo" } },
  ];
  const newDevice = () => ({ deviceId: `fuzz-${randomUUID()}`, token: `ok-fuzz-${randomUUID()}`, platform: "android", appVersion: "1.0", osVersion: "14", locale: "en-US", timezone: "Europe/Paris", userInfo: { theme: "dark" } });
  /** An app claiming an attribute only the school sets (SERVER_ATTRIBUTES lists `role`; compared without regard to case). */
  const claimsRole = (): Case => ({ label: "a server-owned attribute in userInfo", input: { ...newDevice(), userInfo: { theme: "dark", Role: "teacher" } }, field: "userInfo.Role" });
  const inFuture = () => new Date(Date.now() + 86_400_000).toISOString();
  const messageFields = (): Field[] => [
    { name: "title", required: true, kind: text(50, { nulOk: true }) },
    { name: "body", required: true, kind: text(1800, { nulOk: true }) },
    { name: "data", required: false, kind: { t: "strMap" } },
    { name: "link", required: false, kind: text(2048, { nulOk: true }) },
    { name: "imageUrl", required: false, kind: text(2048, { format: "url" }) },
    { name: "sound", required: false, kind: text(256, { nulOk: true }) },
    { name: "badge", required: false, kind: { t: "badge" } },
    { name: "collapseKey", required: false, kind: text(64, { nulOk: true }) },
    { name: "ttlSeconds", required: false, kind: { t: "int", min: 0, max: 2_419_200 } },
    { name: "priority", required: false, kind: { t: "enum", values: ["normal", "high"] } },
    { name: "dataOnly", required: false, kind: { t: "bool" } },
    { name: "category", required: false, kind: text(64, { format: "category" }) },
    { name: "audience", required: true, kind: { t: "audience" } },
    { name: "vars", required: false, kind: { t: "vars" } },
    { name: "sendAt", required: false, kind: { t: "datetime" } },
    { name: "urgency", required: false, kind: { t: "enum", values: ["normal", "emergency"] } },
    { name: "idempotencyKey", required: false, kind: text(128, { format: "idempotencyKey" }) },
  ];
  const newMessage = () => ({
    title: "Fuzz",
    body: "Hello {{name}}",
    data: { route: "/news" },
    link: "https://example.org/news",
    imageUrl: "https://example.org/i.png",
    sound: "default",
    badge: 1,
    collapseKey: "news",
    ttlSeconds: 60,
    priority: "high",
    dataOnly: false,
    category: "news",
    audience: { devices: [ownDevice] },
    vars: { [uids.user]: { name: "Kim" } },
    sendAt: inFuture(),
    idempotencyKey: `fuzz-${randomUUID()}`,
  });
  const messageRef: Field[] = [{ name: "messageId", required: true, kind: { t: "docId" } }];
  const missingMessage = () => `missing${randomBytes(8).toString("hex")}`;

  interface CallableSpec {
    name: string;
    role: "user" | "sender" | "admin";
    base: () => Record<string, unknown>;
    fields: Field[];
    truths: () => Case[];
  }
  const staffOnly = (base: Record<string, unknown>): Case[] => [{ label: "valid input from a user without pushSender", input: base, expect: "permission-denied", as: "user" }];
  const adminOnly = (base: Record<string, unknown>): Case[] => [{ label: "valid input from a user without pushAdmin", input: base, expect: "permission-denied", as: "user" }];
  const CALLABLES: CallableSpec[] = [
    {
      name: "registerDevice",
      role: "user",
      base: newDevice,
      fields: deviceFields(),
      truths: () => [{ label: "another user's live device", input: { ...newDevice(), deviceId: otherDevice }, expect: "failed-precondition" }, claimsRole()],
    },
    ...(["unregisterDevice", "resetBadge"] as const).map(
      (name): CallableSpec => ({
        name,
        role: "user",
        base: () => ({ deviceId: ownDevice }),
        fields: [{ name: "deviceId", required: true, kind: { t: "docId" } }],
        truths: () => [
          { label: "another user's device", input: { deviceId: otherDevice }, expect: "permission-denied" },
          { label: "a device that does not exist", input: { deviceId: `fuzz-${randomUUID()}` }, expect: "not-found" },
        ],
      }),
    ),
    {
      name: "setDeviceEnabled",
      role: "user",
      base: () => ({ deviceId: ownDevice, enabled: false }),
      fields: [
        { name: "deviceId", required: true, kind: { t: "docId" } },
        { name: "enabled", required: true, kind: { t: "bool" } },
      ],
      truths: () => [
        { label: "another user's device", input: { deviceId: otherDevice, enabled: false }, expect: "permission-denied" },
        { label: "a device that does not exist", input: { deviceId: `fuzz-${randomUUID()}`, enabled: false }, expect: "not-found" },
      ],
    },
    { name: "listDevices", role: "user", base: () => ({}), fields: [], truths: () => [] },
    { name: "sendMessage", role: "sender", base: newMessage, fields: messageFields(), truths: () => staffOnly(newMessage()) },
    ...(["cancelMessage", "getMessageReport"] as const).map(
      (name): CallableSpec => ({
        name,
        role: "sender",
        base: () => ({ messageId: ownMessage }),
        fields: messageRef,
        truths: () => [...staffOnly({ messageId: ownMessage }), { label: "a message that does not exist", input: { messageId: missingMessage() }, expect: "not-found" }],
      }),
    ),
    {
      name: "resendFailed",
      role: "sender",
      base: () => ({ messageId: ownMessage, idempotencyKey: `fuzz-${randomUUID()}` }),
      fields: [...messageRef, { name: "idempotencyKey", required: false, kind: text(128, { format: "idempotencyKey" }) }],
      truths: () => [...staffOnly({ messageId: ownMessage }), { label: "a message that does not exist", input: { messageId: missingMessage() }, expect: "not-found" }],
    },
    {
      name: "setPreferences",
      role: "user",
      base: () => ({ mutedCategories: ["news"] }),
      fields: [{ name: "mutedCategories", required: false, kind: { t: "list", item: text(64, { format: "category" }), max: 50, min: 0 } }],
      truths: () => [],
    },
    {
      name: "estimateAudience",
      role: "sender",
      base: () => ({ audience: { all: true }, category: "news" }),
      fields: [
        { name: "audience", required: true, kind: { t: "audience" } },
        { name: "category", required: false, kind: text(64, { format: "category" }) },
      ],
      truths: () => staffOnly({ audience: { all: true } }),
    },
    {
      name: "setDeliveryPaused",
      role: "admin",
      base: () => ({ paused: true, reason: "fuzz" }),
      fields: [
        { name: "paused", required: true, kind: { t: "bool" } },
        { name: "reason", required: false, kind: text(500, { nulOk: true, format: "trimmed" }) },
      ],
      truths: () => adminOnly({ paused: true, reason: "fuzz" }),
    },
    { name: "getDeliveryStatus", role: "admin", base: () => ({}), fields: [], truths: () => adminOnly({}) },
    {
      name: "setUserAttributes",
      role: "admin",
      base: () => ({ userId: uids.user, attributes: { role: "student", grade: null } }),
      fields: [
        { name: "userId", required: true, kind: text(128, { nulOk: true }) },
        { name: "attributes", required: true, kind: { t: "attributes" } },
      ],
      truths: () => [
        ...adminOnly({ userId: uids.user, attributes: { role: "teacher" } }),
        { label: "valid input from a sender without pushAdmin", input: { userId: uids.sender, attributes: { role: "teacher" } }, expect: "permission-denied", as: "sender" },
      ],
    },
    {
      name: "getDeliveryStats",
      role: "admin",
      base: () => ({ hours: 24 }),
      fields: [{ name: "hours", required: false, kind: { t: "int", min: 1, max: 744 } }],
      truths: () => adminOnly({ hours: 24 }),
    },
  ];

  CALLABLES.forEach((spec, index) => {
    it(`callable ${spec.name}: every malformed request refused, nothing written`, { timeout: 180_000 }, async () => {
      const base = spec.base();
      const cases: Case[] = [
        ...casesFor(base, spec.fields, index),
        ...spec.truths(),
        { label: "valid input, signed out", input: base, expect: "unauthenticated", as: "signedOut" },
      ];
      // Warm the function's worker first, so a cold start is not counted as a slow answer.
      await callRaw(spec.name, "warm-up", "signedOut");
      try {
        await runBatch(`callable \`${spec.name}\``, cases, (c) => callRaw(spec.name, c.input, c.as ?? spec.role), judgeCallable, watched());
      } finally {
        // A case wrongly accepted must not leave delivery stopped for the suites after this one.
        if (spec.name === "setDeliveryPaused") await setDeliveryPaused(false, null, "fuzz");
      }
    });
  });

  // ------------------------------------------------------- the HTTPS API

  /** Keys made before a batch (a key made during one would be a write), each used for REQUESTS_PER_KEY requests. */
  async function keyPool(scopes: KeyScope[], requests: number): Promise<() => string> {
    const keys = await Promise.all(Array.from({ length: Math.ceil(requests / REQUESTS_PER_KEY) + 1 }, () => createKey({ name: `fuzz ${randomUUID()}`, scopes, surface: "api" })));
    let used = 0;
    return () => keys[Math.floor(used++ / REQUESTS_PER_KEY)]!.secret;
  }

  const apiUrl = (path: string) => `${functionsUrl("api")}${path}`;
  const apiCall = (method: string, path: string, key: string, body?: string, contentType = "application/json") =>
    post(apiUrl(path), { method, headers: { authorization: `Bearer ${key}`, "x-forwarded-for": newIp(), ...(body !== undefined && { "content-type": contentType }) }, body });
  /**
   * Bodies that are not a JSON object or array go as text/plain: sent as
   * application/json, the platform's own parser refuses them before the
   * function runs, with its HTML error page (docs/senders.md, "HTTPS API"), which is
   * not ours to shape. Any content type means the same to the API.
   */
  const contentTypeOf = (body: string) => (/^\s*[[{]/.test(body) && (() => { try { JSON.parse(body); return true; } catch { return false; } })() ? "application/json" : "text/plain");

  const bodyRoutes: Array<{ entry: string; method?: string; path: string; scopes: KeyScope[]; base: () => Record<string, unknown>; fields: Field[]; truths?: () => Case[] }> = [
    {
      entry: "`POST /v1/devices`",
      path: "/v1/devices",
      scopes: ["devices:write"],
      base: () => ({ userId: uids.user, ...newDevice() }),
      fields: [{ name: "userId", required: true, kind: text(128, { nulOk: true }) }, ...deviceFields()],
      truths: () => [{ ...claimsRole(), input: { userId: uids.user, ...(claimsRole().input as object) } }],
    },
    { entry: "`POST /v1/messages`", path: "/v1/messages", scopes: ["messages:send", "messages:broadcast"], base: newMessage, fields: messageFields() },
    {
      entry: "`PUT /v1/users/{userId}/attributes`",
      method: "PUT",
      path: `/v1/users/${encodeURIComponent(uids.other)}/attributes`,
      scopes: ["users:write"],
      base: () => ({ attributes: { role: "student", grade: null } }),
      fields: [{ name: "attributes", required: true, kind: { t: "attributes" } }],
    },
  ];
  bodyRoutes.forEach((route, index) => {
    it(`API ${route.entry}: every malformed body refused with a JSON 400, nothing written`, { timeout: 180_000 }, async () => {
      const cases: Case[] = [
        ...casesFor(route.base(), route.fields, 100 + index),
        ...(route.truths?.() ?? []),
        { label: "not JSON", input: null, raw: "{ not json", field: "" },
        { label: "truncated JSON", input: null, raw: '{"title": "x"', field: "" },
        { label: "JSON null", input: null, raw: "null", field: "" },
      ];
      const nextKey = await keyPool(route.scopes, cases.length + 1);
      await apiCall(route.method ?? "POST", route.path, nextKey(), "{");
      await runBatch(route.entry, cases, (c) => {
        const body = c.raw ?? JSON.stringify(c.input);
        return apiCall(route.method ?? "POST", route.path, nextKey(), body, contentTypeOf(body));
      }, judgeApi(), watched());
    });
  });

  /** Ids for a path segment: the document-id poison, then random strings the id pattern refuses. */
  function idCases(field: string, salt: number): Case[] {
    const fixed = ID_POISON.map(([label, value]): Case => ({ label: `${field} ${label}`, input: value, field }));
    const random = fc.sample(
      fc.oneof(fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 }), fc.string({ minLength: 129, maxLength: 300, unit: fc.constantFrom("a", "Z", "_", "-", "9") })).filter((s) => !/^[A-Za-z0-9_-]{8,128}$/.test(s) && !/^[A-Za-z0-9_-]{1,7}$/.test(s)),
      { seed: SEED + salt, numRuns: 30 - fixed.length + 4 },
    );
    return [...fixed, ...random.map((value): Case => ({ label: `${field} random ${JSON.stringify(value).slice(0, 30)}`, input: value, field }))];
  }

  const idRoutes: Array<{ entry: string; method: string; path: (id: string) => string; scopes: KeyScope[]; field: string; missing: () => string }> = [
    { entry: "`DELETE /v1/devices/{deviceId}`", method: "DELETE", path: (id) => `/v1/devices/${id}`, scopes: ["devices:write"], field: "deviceId", missing: () => `fuzz-${randomUUID()}` },
    { entry: "`GET /v1/messages/{id}`", method: "GET", path: (id) => `/v1/messages/${id}`, scopes: ["messages:send"], field: "messageId", missing: missingMessage },
    { entry: "`POST /v1/messages/{id}/cancel`", method: "POST", path: (id) => `/v1/messages/${id}/cancel`, scopes: ["messages:send"], field: "messageId", missing: missingMessage },
  ];
  idRoutes.forEach((route, index) => {
    it(`API ${route.entry}: every malformed id refused with a JSON 4xx, nothing written`, { timeout: 180_000 }, async () => {
      const cases: Case[] = [...idCases(route.field, 200 + index), { label: "an id that does not exist", input: route.missing(), expect: "not-found" }];
      if (route.field === "messageId") cases.push({ label: "another sender's message", input: ownMessage, expect: "not-found" });
      const nextKey = await keyPool(route.scopes, cases.length + 1);
      await apiCall(route.method, route.path("warm-up"), nextKey());
      // An id that the URL parser resolves as a path segment ("..", ".", "a/b" as written) reaches another route or none: 404 not-found is the truthful answer then.
      await runBatch(route.entry, cases, (c) => apiCall(route.method, route.path(encodeURIComponent(c.input as string)), nextKey()), judgeApi(["invalid-argument", "not-found"]), watched());
    });
  });

  // ------------------------------------------------------------- Moodle

  const hosting = (path: string) => `${stackEnv("HOSTING_ORIGIN")}${path}`;
  interface MoodleRequest {
    key?: string | null;
    appName?: string | null;
    contentType?: string;
    body?: string;
  }
  function moodleCall(path: string, request: MoodleRequest): Promise<Answer> {
    const headers: Record<string, string> = { accept: "application/json", "user-agent": "MoodleBot/5.1 (+https://moodle.example.org)", "x-forwarded-for": newIp() };
    if (request.appName !== null) headers["x-an-app-name"] = request.appName ?? MOODLE_APP_NAME;
    if (request.key !== null && request.key !== undefined) headers["x-an-app-key"] = request.key;
    if (request.contentType) headers["content-type"] = request.contentType;
    return post(hosting(path), { method: "POST", headers, body: request.body });
  }
  const urlencoded = (fields: Record<string, string>): MoodleRequest => ({ contentType: "application/x-www-form-urlencoded", body: new URLSearchParams(fields).toString() });
  function multipart(fields: Record<string, string>, filename?: string): MoodleRequest {
    const boundary = `----fuzz${randomBytes(6).toString("hex")}`;
    const parts = Object.entries(fields).map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${filename ? `; filename="${filename}"` : ""}\r\n\r\n${value}\r\n`);
    return { contentType: `multipart/form-data; boundary=${boundary}`, body: `${parts.join("")}--${boundary}--\r\n` };
  }

  it("Moodle `POST /accesskeys/`: every malformed request refused with AirNotifier's 400, no key issued", { timeout: 180_000 }, async () => {
    const site = { url: "https://moodle.example.org", siteid: "6f1ed002ab5595859014ebf0951522d9", contact: "admin@example.org", description: "Example" };
    const forms: Array<[string, Record<string, string>]> = [];
    const { url: _url, ...noUrl } = site;
    forms.push(["url removed", noUrl], ["url empty", { ...site, url: "" }], ["url 2,049 characters", { ...site, url: `https://e.org/${"p".repeat(2040)}` }]);
    forms.push(["url not a URL", { ...site, url: "my moodle site" }], ["url with NUL", { ...site, url: "https://moodle.example.org\u0000" }], ["url javascript:", { ...site, url: "javascript:alert(1)" }], ["url ftp:", { ...site, url: "ftp://moodle.example.org" }]);
    forms.push(["url blank", { ...site, url: "   " }], ["url as url[]", { ...noUrl, "url[]": site.url }], ["__proto__ instead of url", Object.assign(JSON.parse(`{"__proto__": "${site.url}"}`) as Record<string, string>, noUrl)]);
    forms.push(["siteid 257 characters", { ...site, siteid: "s".repeat(257) }], ["contact 257 characters", { ...site, contact: "c".repeat(257) }], ["description 1,025 characters", { ...site, description: "d".repeat(1025) }]);
    for (const url of fc.sample(fc.string({ unit: "grapheme", maxLength: 30 }).filter((s) => !/^https?:\/\//.test(s)), { seed: SEED + 300, numRuns: 8 })) {
      forms.push([`url random ${JSON.stringify(url).slice(0, 30)}`, { ...site, url }]);
    }
    const requests: Array<[string, MoodleRequest, string?]> = [];
    for (const [label, fields] of forms) requests.push([`${label} (multipart)`, multipart(fields)], [`${label} (urlencoded)`, urlencoded(fields)]);
    requests.push(["no body", {}], ["a JSON body", { contentType: "application/json", body: JSON.stringify(site) }], ["url as a file part", multipart({ url: site.url }, "url.txt")]);
    requests.push(["a multipart body without its boundary", { contentType: "multipart/form-data", body: multipart(site).body! }]);
    requests.push(["no app name", { ...multipart(site), appName: null }, "app name is required"], ["a wrong app name", { ...multipart(site), appName: "someotherapp" }, "Invalid application name"]);
    const cases = requests.map(([label, request, expect]): Case => ({ label, input: request, expect }));
    await moodleCall("/accesskeys/", {});
    await runBatch("Moodle `POST /accesskeys/`", cases, (c) => moodleCall("/accesskeys/", { key: "none", ...(c.input as MoodleRequest) }), judgeMoodle(["Invalid request", "app name is required", "Invalid application name"]), watched());
  });

  it("Moodle `POST /tokens/{token}`: every malformed registration refused with 400 Invalid token, no device written", { timeout: 180_000 }, async () => {
    const key = await createKey({ name: `fuzz moodle ${randomUUID()}`, scopes: ["devices:write", "messages:send"], surface: "moodle" });
    const sendOnly = await createKey({ name: `fuzz moodle ${randomUUID()}`, scopes: ["messages:send"], surface: "moodle" });
    moodleOwners.push(`${key.tenant}:moodle`, `${sendOnly.tenant}:moodle`);
    const good = `ok-fuzz-${randomUUID()}`;
    const requests: Array<[string, string, MoodleRequest, string?]> = [];
    for (const [label, token] of outOfRange({ t: "token" }).filter(([, t]) => t !== "")) requests.push([`token ${label}`, encodeURIComponent(token as string), multipart({ device: "Android-fcm" })]);
    requests.push(["testtoken", "testtoken", {}], ["testtoken with a device", "testtoken", multipart({ device: "Android-fcm" })]);
    // Not a document id (the device id is a hash of it), but a token must still be one printable word of at most 1,024 characters.
    for (const [label, token] of ID_POISON.filter(([label]) => ["1,600 ASCII characters", "blank", "NUL inside", "a newline"].includes(label))) requests.push([`token ${label}`, encodeURIComponent(token as string), multipart({ device: "Android-fcm" })]);
    for (const [label, form] of [["device removed", {}], ["device empty", { device: "" }], ["device 65 characters", { device: "A".repeat(65) }], ["device as device[]", { "device[]": "Android-fcm" }]] as const) {
      requests.push([`${label} (multipart)`, good, multipart(form)], [`${label} (urlencoded)`, good, urlencoded(form)]);
    }
    requests.push(["a JSON body", good, { contentType: "application/json", body: JSON.stringify({ device: "Android-fcm" }) }]);
    for (const token of fc.sample(randomBad({ t: "token" }).filter((t): t is string => typeof t === "string" && t.length > 0 && !t.includes("/")), { seed: SEED + 301, numRuns: 8 })) {
      requests.push([`token random ${JSON.stringify(token).slice(0, 30)}`, encodeURIComponent(token), multipart({ device: "Android-fcm" })]);
    }
    requests.push(["no key", good, { ...multipart({ device: "Android-fcm" }), key: null }, "app key is required"]);
    requests.push(["a wrong key", good, { ...multipart({ device: "Android-fcm" }), key: "pk_0000000000000000_wrong" }, "Invalid access key"]);
    requests.push(["a key without devices:write", good, { ...multipart({ device: "Android-fcm" }), key: sendOnly.secret }, "No permission"]);
    requests.push(["a wrong app name", good, { ...multipart({ device: "Android-fcm" }), appName: "someotherapp" }, "Invalid application name"]);
    const cases = requests.map(([label, token, request, expect]): Case => ({ label, input: { token, request }, expect }));
    await moodleCall("/tokens/testtoken", { key: key.secret });
    await runBatch(
      "Moodle `POST /tokens/{token}`",
      cases,
      (c) => {
        const { token, request } = c.input as { token: string; request: MoodleRequest };
        return moodleCall(`/tokens/${token}`, { key: key.secret, ...request });
      },
      judgeMoodle(["Invalid token"]),
      watched(),
    );
  });

  it("Moodle `POST /api/v2/push/`: every malformed push refused with AirNotifier's 4xx, nothing written", { timeout: 180_000 }, async () => {
    const key = await createKey({ name: `fuzz moodle ${randomUUID()}`, scopes: ["devices:write", "messages:send"], surface: "moodle" });
    const devicesOnly = await createKey({ name: `fuzz moodle ${randomUUID()}`, scopes: ["devices:write"], surface: "moodle" });
    moodleOwners.push(`${key.tenant}:moodle`, `${devicesOnly.tenant}:moodle`);
    const base = { device: "Android-fcm", token: `ok-fuzz-${randomUUID()}`, extra: { processor: "moodle", subject: "s", smallmessage: "m", sitefullname: "Site", notification: 1 } };
    const fields: Field[] = [
      { name: "token", required: true, kind: { t: "token" } },
      { name: "device", required: false, kind: text(64, { nulOk: true, min: 0 }) },
    ];
    const built = casesFor(base, fields, 302)// Unknown fields are allowed in a push (Moodle adds some): only the schema's own fields are mutated.
      .filter((c) => !/^(an unknown field|an own __proto__ field|a constructor field|a field named with a NUL|a 1,600-byte field name)$/.test(c.label));
    const cases: Case[] = built.map((c) => ({ ...c, input: { body: JSON.stringify(c.input) } }));
    for (const [label, extra] of [["extra a string", "text"], ["extra an array", [1, 2]], ["extra a number", 7], ["extra null", null], ["extra 2,000-deep arrays", deepNesting(2000)]] as const) {
      cases.push({ label, input: { body: JSON.stringify({ ...base, extra }) } });
    }
    for (const [label, body] of [["not JSON", "{ not json"], ["empty", ""], ["truncated", '{"token": "ok-'], ["JSON null", "null"], ["a JSON string", '"push"'], ["17 kB", JSON.stringify({ ...base, extra: { smallmessage: "m".repeat(17_000) } })]] as const) {
      cases.push({ label: `a body ${label}`, input: { body } });
    }
    // A site sees only its own tenant's devices: the dead token is one this site registered.
    const siteDeadToken = `ok-dead-${randomUUID()}`;
    await seedDevices([{ token: siteDeadToken, retired: true, retiredReason: "unregistered", tenant: key.tenant, userId: `${key.tenant}:moodle` }]);
    cases.push({ label: "a token FCM reported dead", input: { body: JSON.stringify({ ...base, token: siteDeadToken }) }, expect: "Unregistered token" });
    cases.push({ label: "no key", input: { body: JSON.stringify(base), key: null }, expect: "app key is required" });
    cases.push({ label: "a key without messages:send", input: { body: JSON.stringify(base), key: devicesOnly.secret }, expect: "No permission" });
    cases.push({ label: "a wrong app name", input: { body: JSON.stringify(base), appName: "someotherapp" }, expect: "Invalid application name" });
    await moodleCall("/api/v2/push/", { key: key.secret, body: "{" });
    await runBatch(
      "Moodle `POST /api/v2/push/`",
      cases,
      // Moodle posts the JSON without a content type of its own: curl sends its form default.
      (c) => moodleCall("/api/v2/push/", { key: key.secret, contentType: "application/x-www-form-urlencoded", ...(c.input as MoodleRequest) }),
      judgeMoodle(["Invalid push", "Invalid token", "The body is larger than"]),
      watched(),
    );
  });
});
