/**
 * Security-rules tests for firestore.rules, run against a Firestore emulator
 * given by FIRESTORE_EMULATOR_HOST (host:port).
 *
 * The emulator may be shared with other test files, so nothing is cleared:
 * every document and user id is a fresh random one.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  assertFails,
  assertSucceeds,
  initializeTestEnvironment,
  type RulesTestContext,
  type RulesTestEnvironment,
} from "@firebase/rules-unit-testing";
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
import { PROJECT_ID } from "../tools/lib/env.ts";

const here = dirname(fileURLToPath(import.meta.url));
const RULES_PATH = resolve(here, "..", "firestore.rules");

function emulatorHostAndPort(): { host: string; port: number } {
  const raw = process.env.FIRESTORE_EMULATOR_HOST;
  if (!raw) {
    throw new Error("FIRESTORE_EMULATOR_HOST is not set; these tests need a running Firestore emulator (host:port).");
  }
  const colon = raw.lastIndexOf(":");
  const host = raw.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(raw.slice(colon + 1));
  if (colon <= 0 || !host || !Number.isInteger(port) || port <= 0) {
    throw new Error(`FIRESTORE_EMULATOR_HOST must be host:port, got ${JSON.stringify(raw)}`);
  }
  return { host, port };
}

// Checked at load time so a missing emulator fails the file outright rather than skipping.
const EMULATOR = emulatorHostAndPort();

const id = (prefix: string): string => `${prefix}-${randomUUID()}`;

let testEnv: RulesTestEnvironment;

/** The context's client Firestore, typed for the modular API. */
function fs(ctx: RulesTestContext): Firestore {
  return ctx.firestore() as unknown as Firestore;
}

function userDb(uid: string): Firestore {
  return fs(testEnv.authenticatedContext(uid));
}

function senderDb(uid: string): Firestore {
  return fs(testEnv.authenticatedContext(uid, { pushSender: true }));
}

function anonDb(): Firestore {
  return fs(testEnv.unauthenticatedContext());
}

/** Writes documents with security rules off. */
async function seed(docs: Record<string, DocumentData>): Promise<void> {
  await testEnv.withSecurityRulesDisabled(async (ctx) => {
    const db = fs(ctx);
    for (const [path, data] of Object.entries(docs)) {
      await setDoc(doc(db, path), data);
    }
  });
}

/** A message body that passes validation for `senderId`. */
function validMessage(senderId: string, extra: DocumentData = {}): DocumentData {
  return { title: "Hello", body: "World", senderId, createdAt: serverTimestamp(), ...extra };
}

function validRecipient(extra: DocumentData = {}): DocumentData {
  return { deviceId: id("dev"), status: -1, statusMessage: null, attempts: 0, ...extra };
}

/** Seeds a message (rules off) and returns its id. */
async function seedMessage(senderId: string): Promise<string> {
  const messageId = id("msg");
  await seed({
    [`messages/${messageId}`]: { title: "Seeded", body: "Seeded body", senderId, createdAt: Timestamp.now() },
  });
  return messageId;
}

before(async () => {
  setLogLevel("error");
  testEnv = await initializeTestEnvironment({
    projectId: PROJECT_ID,
    firestore: { ...EMULATOR, rules: readFileSync(RULES_PATH, "utf8") },
  });
});

after(async () => {
  await testEnv?.cleanup();
});

describe("devices", () => {
  it("lets a user get their own device", async () => {
    const uid = id("user");
    const deviceId = id("dev");
    await seed({ [`devices/${deviceId}`]: { userId: uid, platform: "ios", token: "t" } });
    await assertSucceeds(getDoc(doc(userDb(uid), "devices", deviceId)));
  });

  it("denies getting another user's device", async () => {
    const owner = id("user");
    const deviceId = id("dev");
    await seed({ [`devices/${deviceId}`]: { userId: owner, platform: "ios", token: "t" } });
    await assertFails(getDoc(doc(userDb(id("user")), "devices", deviceId)));
  });

  it("denies unauthenticated reads", async () => {
    const deviceId = id("dev");
    await seed({ [`devices/${deviceId}`]: { userId: id("user"), platform: "ios", token: "t" } });
    await assertFails(getDoc(doc(anonDb(), "devices", deviceId)));
  });

  it("lets a user list their own devices with a userId query", async () => {
    const uid = id("user");
    const a = id("dev");
    const b = id("dev");
    await seed({
      [`devices/${a}`]: { userId: uid, platform: "ios", token: "ta" },
      [`devices/${b}`]: { userId: uid, platform: "android", token: "tb" },
      [`devices/${id("dev")}`]: { userId: id("user"), platform: "web", token: "tc" },
    });
    const snap = await assertSucceeds(getDocs(query(collection(userDb(uid), "devices"), where("userId", "==", uid))));
    assert.deepEqual(snap.docs.map((d) => d.id).sort(), [a, b].sort());
  });

  it("denies an unconstrained list", async () => {
    const uid = id("user");
    await seed({ [`devices/${id("dev")}`]: { userId: uid, platform: "ios", token: "t" } });
    await assertFails(getDocs(collection(userDb(uid), "devices")));
  });

  it("denies listing another user's devices", async () => {
    await assertFails(getDocs(query(collection(userDb(id("user")), "devices"), where("userId", "==", id("user")))));
  });

  it("denies unauthenticated list", async () => {
    await assertFails(getDocs(query(collection(anonDb(), "devices"), where("userId", "==", id("user")))));
  });

  it("denies create by the owner", async () => {
    const uid = id("user");
    await assertFails(setDoc(doc(userDb(uid), "devices", id("dev")), { userId: uid, platform: "ios", token: "t" }));
  });

  it("denies update by the owner", async () => {
    const uid = id("user");
    const deviceId = id("dev");
    await seed({ [`devices/${deviceId}`]: { userId: uid, platform: "ios", token: "t" } });
    await assertFails(updateDoc(doc(userDb(uid), "devices", deviceId), { token: "changed" }));
  });

  it("denies delete by the owner", async () => {
    const uid = id("user");
    const deviceId = id("dev");
    await seed({ [`devices/${deviceId}`]: { userId: uid, platform: "ios", token: "t" } });
    await assertFails(deleteDoc(doc(userDb(uid), "devices", deviceId)));
  });

  it("denies writes even by a push sender", async () => {
    const uid = id("sender");
    await assertFails(setDoc(doc(senderDb(uid), "devices", id("dev")), { userId: uid, platform: "ios", token: "t" }));
  });
});

describe("messages: create", () => {
  const create = (db: Firestore, data: DocumentData) => setDoc(doc(db, "messages", id("msg")), data);

  it("lets a push sender create a valid message", async () => {
    const uid = id("sender");
    await assertSucceeds(create(senderDb(uid), validMessage(uid)));
  });

  it("lets a push sender create a message with every optional field", async () => {
    const uid = id("sender");
    await assertSucceeds(
      create(
        senderDb(uid),
        validMessage(uid, {
          title: "x".repeat(50),
          body: "y".repeat(1800),
          data: { k: "v" },
          link: "https://example.com",
          imageUrl: "https://example.com/i.png",
          sound: "default",
          collapseKey: "ck",
          ttlSeconds: 0,
          priority: "high",
          badge: 3,
          titleLocKey: "T",
          titleLocArgs: ["a"],
          bodyLocKey: "B",
          bodyLocArgs: ["b", "c"],
        }),
      ),
    );
  });

  it("accepts badge \"increment\" and priority \"normal\"", async () => {
    const uid = id("sender");
    await assertSucceeds(create(senderDb(uid), validMessage(uid, { badge: "increment", priority: "normal" })));
  });

  it("denies a normal user", async () => {
    const uid = id("user");
    await assertFails(create(userDb(uid), validMessage(uid)));
  });

  it("denies a user whose pushSender claim is false", async () => {
    const uid = id("user");
    const db = fs(testEnv.authenticatedContext(uid, { pushSender: false }));
    await assertFails(create(db, validMessage(uid)));
  });

  it("denies an unauthenticated client", async () => {
    await assertFails(create(anonDb(), validMessage(id("user"))));
  });

  it("denies a 51-character title", async () => {
    const uid = id("sender");
    await assertFails(create(senderDb(uid), validMessage(uid, { title: "x".repeat(51) })));
  });

  it("denies an empty title", async () => {
    const uid = id("sender");
    await assertFails(create(senderDb(uid), validMessage(uid, { title: "" })));
  });

  it("denies a 1801-character body", async () => {
    const uid = id("sender");
    await assertFails(create(senderDb(uid), validMessage(uid, { body: "y".repeat(1801) })));
  });

  it("denies a missing body", async () => {
    const uid = id("sender");
    const noBody = validMessage(uid);
    delete noBody.body;
    await assertFails(create(senderDb(uid), noBody));
  });

  it("denies a senderId other than the caller", async () => {
    const uid = id("sender");
    await assertFails(create(senderDb(uid), validMessage(id("someone-else"))));
  });

  it("denies a client-chosen createdAt", async () => {
    const uid = id("sender");
    await assertFails(create(senderDb(uid), validMessage(uid, { createdAt: Timestamp.now() })));
  });

  it("denies an unknown field", async () => {
    const uid = id("sender");
    await assertFails(create(senderDb(uid), validMessage(uid, { surprise: "promo" })));
  });

  it("denies an invalid priority", async () => {
    const uid = id("sender");
    await assertFails(create(senderDb(uid), validMessage(uid, { priority: "urgent" })));
  });

  it("denies a negative badge or ttlSeconds", async () => {
    const uid = id("sender");
    await assertFails(create(senderDb(uid), validMessage(uid, { badge: -1 })));
    await assertFails(create(senderDb(uid), validMessage(uid, { ttlSeconds: -5 })));
  });

  it("denies data that is not a map", async () => {
    const uid = id("sender");
    await assertFails(create(senderDb(uid), validMessage(uid, { data: "nope" })));
  });

  it("accepts a data-only message, with dataOnly a boolean", async () => {
    const uid = id("sender");
    await assertSucceeds(create(senderDb(uid), validMessage(uid, { dataOnly: true, data: { k: "v" } })));
    await assertFails(create(senderDb(uid), validMessage(uid, { dataOnly: "yes" })));
  });
});

describe("messages: read, update, delete", () => {
  it("lets a push sender get and list messages", async () => {
    const messageId = await seedMessage(id("sender"));
    const db = senderDb(id("sender"));
    const snap = await assertSucceeds(getDoc(doc(db, "messages", messageId)));
    assert.equal(snap.exists(), true);
    await assertSucceeds(getDocs(collection(db, "messages")));
  });

  it("denies a normal user reading messages", async () => {
    const messageId = await seedMessage(id("sender"));
    const db = userDb(id("user"));
    await assertFails(getDoc(doc(db, "messages", messageId)));
    await assertFails(getDocs(collection(db, "messages")));
  });

  it("denies unauthenticated reads", async () => {
    const messageId = await seedMessage(id("sender"));
    await assertFails(getDoc(doc(anonDb(), "messages", messageId)));
  });

  it("denies update even by the push sender who sent it", async () => {
    const uid = id("sender");
    const messageId = await seedMessage(uid);
    await assertFails(updateDoc(doc(senderDb(uid), "messages", messageId), { title: "Edited" }));
  });

  it("denies delete even by the push sender who sent it", async () => {
    const uid = id("sender");
    const messageId = await seedMessage(uid);
    await assertFails(deleteDoc(doc(senderDb(uid), "messages", messageId)));
  });
});

describe("messages/{id}/recipients", () => {
  const recipientRef = (db: Firestore, messageId: string, recipientId = id("rcp")) =>
    doc(db, "messages", messageId, "recipients", recipientId);

  it("lets a push sender create a pending recipient (status -1, statusMessage null, attempts 0)", async () => {
    const uid = id("sender");
    const messageId = await seedMessage(uid);
    await assertSucceeds(setDoc(recipientRef(senderDb(uid), messageId), validRecipient()));
  });

  it("accepts the optional userId, vars and leaseExpiresAt", async () => {
    const uid = id("sender");
    const messageId = await seedMessage(uid);
    const db = senderDb(uid);
    await assertSucceeds(
      setDoc(recipientRef(db, messageId), validRecipient({ userId: id("user"), vars: { name: "Ann" }, leaseExpiresAt: null })),
    );
    await assertSucceeds(setDoc(recipientRef(db, messageId), validRecipient({ userId: null })));
  });

  it("denies status 200", async () => {
    const uid = id("sender");
    const messageId = await seedMessage(uid);
    await assertFails(setDoc(recipientRef(senderDb(uid), messageId), validRecipient({ status: 200 })));
  });

  it("denies a non-null statusMessage", async () => {
    const uid = id("sender");
    const messageId = await seedMessage(uid);
    await assertFails(setDoc(recipientRef(senderDb(uid), messageId), validRecipient({ statusMessage: "ok" })));
  });

  it("denies attempts other than 0", async () => {
    const uid = id("sender");
    const messageId = await seedMessage(uid);
    await assertFails(setDoc(recipientRef(senderDb(uid), messageId), validRecipient({ attempts: 1 })));
  });

  it("denies a non-null leaseExpiresAt", async () => {
    const uid = id("sender");
    const messageId = await seedMessage(uid);
    await assertFails(
      setDoc(recipientRef(senderDb(uid), messageId), validRecipient({ leaseExpiresAt: Timestamp.now() })),
    );
  });

  it("denies a missing deviceId", async () => {
    const uid = id("sender");
    const messageId = await seedMessage(uid);
    const noDevice = validRecipient();
    delete noDevice.deviceId;
    await assertFails(setDoc(recipientRef(senderDb(uid), messageId), noDevice));
  });

  it("denies an unknown field", async () => {
    const uid = id("sender");
    const messageId = await seedMessage(uid);
    await assertFails(setDoc(recipientRef(senderDb(uid), messageId), validRecipient({ token: "raw-fcm-token" })));
  });

  it("denies a recipient for a message that does not exist", async () => {
    const uid = id("sender");
    await assertFails(setDoc(recipientRef(senderDb(uid), id("missing-msg")), validRecipient()));
  });

  it("denies a normal user creating a recipient", async () => {
    const messageId = await seedMessage(id("sender"));
    await assertFails(setDoc(recipientRef(userDb(id("user")), messageId), validRecipient()));
  });

  it("denies a status update by a push sender", async () => {
    const uid = id("sender");
    const messageId = await seedMessage(uid);
    const recipientId = id("rcp");
    await seed({ [`messages/${messageId}/recipients/${recipientId}`]: { deviceId: id("dev"), status: -1, statusMessage: null, attempts: 0 } });
    await assertFails(updateDoc(recipientRef(senderDb(uid), messageId, recipientId), { status: 200 }));
    await assertFails(updateDoc(recipientRef(senderDb(uid), messageId, recipientId), { status: -3 }));
  });

  it("denies delete by a push sender", async () => {
    const uid = id("sender");
    const messageId = await seedMessage(uid);
    const recipientId = id("rcp");
    await seed({ [`messages/${messageId}/recipients/${recipientId}`]: { deviceId: id("dev"), status: -1, statusMessage: null, attempts: 0 } });
    await assertFails(deleteDoc(recipientRef(senderDb(uid), messageId, recipientId)));
  });

  it("lets a push sender read recipients, and denies a normal user", async () => {
    const messageId = await seedMessage(id("sender"));
    const recipientId = id("rcp");
    // Already final: a pending one would be delivered (and end -99, its device is made up) by the stack's trigger meanwhile.
    await seed({ [`messages/${messageId}/recipients/${recipientId}`]: { deviceId: id("dev"), status: 200, statusMessage: null, attempts: 1 } });

    const sender = senderDb(id("sender"));
    const snap = await assertSucceeds(getDoc(recipientRef(sender, messageId, recipientId)));
    assert.equal(snap.get("status"), 200);
    const list = await assertSucceeds(getDocs(collection(sender, "messages", messageId, "recipients")));
    assert.deepEqual(list.docs.map((d) => d.id), [recipientId]);

    const user = userDb(id("user"));
    await assertFails(getDoc(recipientRef(user, messageId, recipientId)));
    await assertFails(getDocs(collection(user, "messages", messageId, "recipients")));
  });
});

describe("everything else", () => {
  it("denies reads and writes to accessKeys, even for a push sender", async () => {
    const keyId = id("key");
    await seed({ [`accessKeys/${keyId}`]: { hash: "h" } });
    const db = senderDb(id("sender"));
    await assertFails(getDoc(doc(db, "accessKeys", keyId)));
    await assertFails(setDoc(doc(db, "accessKeys", id("key")), { hash: "h" }));
  });

  it("denies an unknown collection", async () => {
    const uid = id("user");
    const db = userDb(uid);
    await assertFails(setDoc(doc(db, id("collection"), id("doc")), { userId: uid }));
    await assertFails(getDoc(doc(db, "whatever", id("doc"))));
  });
});
