/**
 * The security rules as a matrix: every collection of the data model × every
 * role × every operation, one test per cell, each expected answer read from
 * the single table `MATRIX` below (which docs/operations.md's "Rules matrix" is
 * printed from: set RULES_MATRIX_MARKDOWN=1 to print it). Then the fields and
 * values a writer may not set, which the matrix's valid writes do not show.
 *
 * Roles: signed out; a user (who owns the device and preferences under test);
 * another user; a sender (`pushSender: true`, who sent the message under
 * test); another sender. Every id is fresh, so the emulator may be shared.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { assertFails, assertSucceeds, initializeTestEnvironment, type RulesTestEnvironment } from "@firebase/rules-unit-testing";
import {
  collection,
  deleteDoc,
  doc,
  getDoc,
  getDocs,
  query,
  serverTimestamp,
  setDoc,
  setLogLevel,
  Timestamp,
  updateDoc,
  where,
  type DocumentData,
  type Firestore,
} from "firebase/firestore";
import { idempotentMessageId } from "../functions/src/sending/send.ts";
import { userAttributesId } from "../functions/src/devices/attributes.ts";
import { stackEnv } from "../tools/lib/env.ts";

const ROLES = ["signedOut", "user", "otherUser", "sender", "otherSender"] as const;
type Role = (typeof ROLES)[number];
const OPERATIONS = ["get", "list", "create", "update", "delete"] as const;
type Operation = (typeof OPERATIONS)[number];

const ROLE_NAMES: Record<Role, string> = {
  signedOut: "signed out",
  user: "the user",
  otherUser: "another user",
  sender: "the sender",
  otherSender: "another sender",
};

/** Who may do what: the roles allowed each operation (everyone else is denied). */
const MATRIX: Record<string, { path: string; what: string; allow: Record<Operation, Role[]> }> = {
  devices: {
    path: "devices/{deviceId}",
    what: "the user's device; list = `where userId == <the user>`",
    allow: { get: ["user"], list: ["user"], create: [], update: [], delete: [] },
  },
  preferences: {
    path: "preferences/{uid}",
    what: "the user's preferences",
    allow: { get: ["user"], list: [], create: [], update: [], delete: [] },
  },
  messages: {
    path: "messages/{messageId}",
    what: "the sender's message; create = a valid message in the caller's own name",
    allow: { get: ["sender", "otherSender"], list: ["sender", "otherSender"], create: ["sender", "otherSender"], update: [], delete: [] },
  },
  recipients: {
    path: "messages/{messageId}/recipients/{recipientId}",
    what: "a recipient of the sender's message; create = a valid pending recipient under it",
    allow: { get: ["sender", "otherSender"], list: ["sender", "otherSender"], create: ["sender"], update: [], delete: [] },
  },
  counters: {
    path: "messages/{messageId}/counters/{slot}",
    what: "an outcome counter of the sender's message",
    allow: { get: ["sender", "otherSender"], list: ["sender", "otherSender"], create: [], update: [], delete: [] },
  },
  receipts: {
    path: "messages/{messageId}/receipts/{deviceId}",
    what: "what a device's app reported (received, opened); written by ackMessage only",
    allow: { get: [], list: [], create: [], update: [], delete: [] },
  },
  userAttributes: {
    path: "userAttributes/{id}",
    what: "the attributes the school set for the user (role, grade…)",
    allow: { get: [], list: [], create: [], update: [], delete: [] },
  },
  accessKeys: { path: "accessKeys/{keyId}", what: "an access key", allow: { get: [], list: [], create: [], update: [], delete: [] } },
  apiGuards: { path: "apiGuards/{id}", what: "a ban or rate counter", allow: { get: [], list: [], create: [], update: [], delete: [] } },
  metrics: { path: "metrics/{hour}_{slot}", what: "an hour's delivery outcomes", allow: { get: [], list: [], create: [], update: [], delete: [] } },
  ops: { path: "ops/delivery", what: "the emergency stop", allow: { get: [], list: [], create: [], update: [], delete: [] } },
};

const fresh = (prefix: string) => `${prefix}-${randomUUID()}`;

let testEnv: RulesTestEnvironment;

interface Cast {
  uid: Record<Exclude<Role, "signedOut">, string>;
  db(role: Role): Firestore;
}

function newCast(): Cast {
  const uid = { user: fresh("user"), otherUser: fresh("user"), sender: fresh("sender"), otherSender: fresh("sender") };
  return {
    uid,
    db(role) {
      if (role === "signedOut") return testEnv.unauthenticatedContext().firestore() as unknown as Firestore;
      const claims = role === "sender" || role === "otherSender" ? { pushSender: true } : {};
      return testEnv.authenticatedContext(uid[role], claims).firestore() as unknown as Firestore;
    },
  };
}

async function seed(docs: Record<string, DocumentData>): Promise<void> {
  await testEnv.withSecurityRulesDisabled(async (ctx) => {
    const db = ctx.firestore() as unknown as Firestore;
    for (const [path, data] of Object.entries(docs)) await setDoc(doc(db, path), data);
  });
}

const pendingRecipient = (extra: DocumentData = {}): DocumentData => ({ deviceId: fresh("dev"), status: -1, statusMessage: null, attempts: 0, ...extra });

/** Seeds the documents a collection's cells act on and returns each operation as a call by a role. */
type Cell = (db: Firestore, role: Role) => Promise<unknown>;
async function cellsOf(name: string, cast: Cast): Promise<Record<Operation, Cell>> {
  const { uid } = cast;
  const callerUid = (role: Role) => (role === "signedOut" ? uid.user : uid[role]);
  switch (name) {
    case "devices": {
      const id = fresh("dev");
      await seed({ [`devices/${id}`]: { userId: uid.user, token: "t-1", platform: "ios", enabled: true, badge: 0, retired: false } });
      return {
        get: (db) => getDoc(doc(db, "devices", id)),
        list: (db) => getDocs(query(collection(db, "devices"), where("userId", "==", uid.user))),
        create: (db, role) => setDoc(doc(db, "devices", fresh("dev")), { userId: callerUid(role), token: "t-2", platform: "android", enabled: true, badge: 0, retired: false }),
        update: (db) => updateDoc(doc(db, "devices", id), { enabled: false }),
        delete: (db) => deleteDoc(doc(db, "devices", id)),
      };
    }
    case "preferences": {
      await seed({ [`preferences/${uid.user}`]: { mutedCategories: ["news"] } });
      return {
        get: (db) => getDoc(doc(db, "preferences", uid.user)),
        list: (db) => getDocs(collection(db, "preferences")),
        create: (db, role) => setDoc(doc(db, "preferences", role === "user" ? fresh("user") : callerUid(role)), { mutedCategories: [] }),
        update: (db) => updateDoc(doc(db, "preferences", uid.user), { mutedCategories: [] }),
        delete: (db) => deleteDoc(doc(db, "preferences", uid.user)),
      };
    }
    case "messages":
    case "recipients":
    case "counters":
    case "receipts": {
      const messageId = fresh("msg");
      const recipientId = fresh("rcp");
      await seed({
        [`messages/${messageId}`]: { title: "Seeded", body: "Seeded body", senderId: uid.sender, createdAt: Timestamp.now() },
        [`messages/${messageId}/recipients/${recipientId}`]: pendingRecipient(),
        [`messages/${messageId}/counters/0`]: { counts: { "200": 1 }, updatedAt: Timestamp.now() },
        [`messages/${messageId}/receipts/dev-seeded-1`]: { receivedAt: Timestamp.now(), openedAt: null },
      });
      if (name === "messages") {
        return {
          get: (db) => getDoc(doc(db, "messages", messageId)),
          list: (db) => getDocs(collection(db, "messages")),
          create: (db, role) => setDoc(doc(db, "messages", fresh("msg")), { title: "Hi", body: "There", senderId: callerUid(role), createdAt: serverTimestamp() }),
          update: (db) => updateDoc(doc(db, "messages", messageId), { title: "Changed" }),
          delete: (db) => deleteDoc(doc(db, "messages", messageId)),
        };
      }
      const sub = name;
      const subjectId = sub === "recipients" ? recipientId : sub === "receipts" ? "dev-seeded-1" : "0";
      const created = { recipients: pendingRecipient(), counters: { counts: {}, updatedAt: serverTimestamp() }, receipts: { receivedAt: serverTimestamp(), openedAt: serverTimestamp() } }[sub];
      const changed = { recipients: { status: 200 }, counters: { counts: {} }, receipts: { openedAt: serverTimestamp() } }[sub];
      return {
        get: (db) => getDoc(doc(db, "messages", messageId, sub, subjectId)),
        list: (db) => getDocs(collection(db, "messages", messageId, sub)),
        create: (db) => setDoc(doc(db, "messages", messageId, sub, sub === "recipients" ? fresh("rcp") : sub === "receipts" ? fresh("dev") : "1"), created),
        update: (db) => updateDoc(doc(db, "messages", messageId, sub, subjectId), changed),
        delete: (db) => deleteDoc(doc(db, "messages", messageId, sub, subjectId)),
      };
    }
    case "userAttributes": {
      const id = userAttributesId(uid.user);
      await seed({ [`userAttributes/${id}`]: { userId: uid.user, tenant: "app", attributes: { role: "student" }, updatedAt: Timestamp.now(), updatedBy: "staff" } });
      return {
        get: (db) => getDoc(doc(db, "userAttributes", id)),
        list: (db) => getDocs(collection(db, "userAttributes")),
        create: (db, role) => setDoc(doc(db, "userAttributes", userAttributesId(role === "user" ? fresh("user") : callerUid(role))), { userId: callerUid(role), tenant: "app", attributes: { role: "teacher" } }),
        update: (db) => updateDoc(doc(db, "userAttributes", id), { "attributes.role": "teacher" }),
        delete: (db) => deleteDoc(doc(db, "userAttributes", id)),
      };
    }
    default: {
      const id = name === "ops" ? "delivery" : fresh(name);
      await seed({ [`${name}/${id}`]: { value: 1 } });
      return {
        get: (db) => getDoc(doc(db, name, id)),
        list: (db) => getDocs(collection(db, name)),
        create: (db) => setDoc(doc(db, name, fresh(name)), { value: 2 }),
        update: (db) => updateDoc(doc(db, name, id), { value: 3 }),
        delete: (db) => deleteDoc(doc(db, name, id)),
      };
    }
  }
}

/** docs/operations.md's table, from MATRIX. */
function matrixMarkdown(): string {
  const mark = (allowed: Role[], role: Role) => (allowed.includes(role) ? "allow" : "—");
  const header = `| collection | operation | ${ROLES.map((r) => ROLE_NAMES[r]).join(" | ")} |`;
  const rule = `|---|---|${ROLES.map(() => "---").join("|")}|`;
  const rows = Object.values(MATRIX).flatMap((entry) => OPERATIONS.map((op) => `| \`${entry.path}\` | ${op} | ${ROLES.map((role) => mark(entry.allow[op], role)).join(" | ")} |`));
  return [header, rule, ...rows].join("\n");
}

before(async () => {
  setLogLevel("silent");
  const [host, port] = stackEnv("FIRESTORE_EMULATOR_HOST").split(":");
  const rules = readFileSync(resolve(dirname(fileURLToPath(import.meta.url)), "..", "firestore.rules"), "utf8");
  testEnv = await initializeTestEnvironment({ projectId: stackEnv("GCLOUD_PROJECT"), firestore: { host: host as string, port: Number(port), rules } });
});

after(async () => {
  await testEnv?.cleanup();
  if (process.env.RULES_MATRIX_MARKDOWN) console.log(`\n${matrixMarkdown()}\n`);
});

describe("rules matrix: collection × role × operation", () => {
  for (const [name, entry] of Object.entries(MATRIX)) {
    describe(`${entry.path} (${entry.what})`, () => {
      for (const op of OPERATIONS) {
        for (const role of ROLES) {
          const allowed = entry.allow[op].includes(role);
          it(`${op} by ${ROLE_NAMES[role]}: ${allowed ? "allowed" : "denied"}`, async () => {
            const cast = newCast();
            const cells = await cellsOf(name, cast);
            const attempt = cells[op](cast.db(role), role);
            await (allowed ? assertSucceeds(attempt) : assertFails(attempt));
          });
        }
      }
    });
  }
});

describe("rules: what a writer may not set", () => {
  async function senderMessage(cast: Cast): Promise<string> {
    const messageId = fresh("msg");
    await seed({ [`messages/${messageId}`]: { title: "Seeded", body: "Seeded body", senderId: cast.uid.sender, createdAt: Timestamp.now() } });
    return messageId;
  }

  const recipientCases: Array<[string, DocumentData]> = [
    ["status 200", pendingRecipient({ status: 200 })],
    ["status -3", pendingRecipient({ status: -3 })],
    ["a statusMessage", pendingRecipient({ statusMessage: "sent" })],
    ["attempts 1", pendingRecipient({ attempts: 1 })],
    ["a running lease", pendingRecipient({ leaseExpiresAt: Timestamp.now() })],
    ["sentAt", pendingRecipient({ sentAt: Timestamp.now() })],
    ["fcmMessageId", pendingRecipient({ fcmMessageId: "projects/p/messages/1" })],
    ["retryAt", pendingRecipient({ retryAt: Timestamp.now() })],
    ["badgeValue", pendingRecipient({ badgeValue: 3 })],
    ["a numeric deviceId", pendingRecipient({ deviceId: 12345678 })],
    ["an empty deviceId", pendingRecipient({ deviceId: "" })],
    ["a deviceId with a slash", pendingRecipient({ deviceId: "abcd/efgh" })],
    ["a deviceId of 129 characters", pendingRecipient({ deviceId: "d".repeat(129) })],
    ["a numeric userId", pendingRecipient({ userId: 7 })],
    ["vars that are not a map", pendingRecipient({ vars: "name=Kim" })],
  ];
  for (const [what, data] of recipientCases) {
    it(`refuses a recipient with ${what}`, async () => {
      const cast = newCast();
      const messageId = await senderMessage(cast);
      await assertSucceeds(setDoc(doc(cast.db("sender"), "messages", messageId, "recipients", fresh("rcp")), pendingRecipient()));
      await assertFails(setDoc(doc(cast.db("sender"), "messages", messageId, "recipients", fresh("rcp")), data));
    });
  }

  it("refuses recipients under a message that does not exist", async () => {
    const cast = newCast();
    await assertFails(setDoc(doc(cast.db("sender"), "messages", fresh("msg"), "recipients", fresh("rcp")), pendingRecipient()));
  });

  it("refuses recipients under a message written by a job (senderId null)", async () => {
    const cast = newCast();
    const messageId = fresh("msg");
    await seed({ [`messages/${messageId}`]: { title: "Job", body: "Nightly", senderId: null, createdAt: Timestamp.now() } });
    await assertFails(setDoc(doc(cast.db("sender"), "messages", messageId, "recipients", fresh("rcp")), pendingRecipient()));
  });

  const message = (cast: Cast, extra: DocumentData = {}): DocumentData => ({ title: "Hi", body: "There", senderId: cast.uid.sender, createdAt: serverTimestamp(), ...extra });
  const messageCases: Array<[string, (cast: Cast) => DocumentData]> = [
    ["another sender's senderId", (cast) => message(cast, { senderId: cast.uid.otherSender })],
    ["senderId null", (cast) => message(cast, { senderId: null })],
    ["a chosen createdAt", (cast) => message(cast, { createdAt: Timestamp.fromMillis(0) })],
    ["a 51-character title", (cast) => message(cast, { title: "t".repeat(51) })],
    ["a 1801-character body", (cast) => message(cast, { body: "b".repeat(1801) })],
    ["via", (cast) => message(cast, { via: "api" })],
    ["recipientCount", (cast) => message(cast, { recipientCount: 1 })],
    ["cancelledAt", (cast) => message(cast, { cancelledAt: Timestamp.now() })],
    ["sendAt that is not a timestamp", (cast) => message(cast, { sendAt: "tomorrow" })],
    ["sendAt more than 30 days ahead", (cast) => message(cast, { sendAt: Timestamp.fromMillis(Date.now() + 31 * 86_400_000) })],
    ["an audience that is not a map", (cast) => message(cast, { audience: "everyone" })],
    ["an empty audience", (cast) => message(cast, { audience: {} })],
    ["recipientsWrittenAt", (cast) => message(cast, { recipientsWrittenAt: Timestamp.now() })],
    ["an invalid reason", (cast) => message(cast, { invalid: { field: "title", message: "x" } })],
    ["idempotencyKey and requestHash", (cast) => message(cast, { idempotencyKey: "k", requestHash: "h" })],
    ["resendOf", (cast) => message(cast, { resendOf: "m" })],
    ["dataOnly as a string", (cast) => message(cast, { dataOnly: "yes" })],
  ];
  for (const [what, data] of messageCases) {
    it(`refuses a message with ${what}`, async () => {
      const cast = newCast();
      await assertSucceeds(setDoc(doc(cast.db("sender"), "messages", fresh("msg")), message(cast)));
      await assertFails(setDoc(doc(cast.db("sender"), "messages", fresh("msg")), data(cast)));
    });
  }

  it("refuses a message whose id has the form of an id derived from an idempotency key", async () => {
    const cast = newCast();
    const derived = idempotentMessageId(cast.uid.otherSender, "nightly-2026-12-07");
    await assertFails(setDoc(doc(cast.db("sender"), "messages", derived), message(cast)));
    await assertSucceeds(setDoc(doc(cast.db("sender"), "messages", `${derived.slice(0, 39)}-`), message(cast)));
  });
});
