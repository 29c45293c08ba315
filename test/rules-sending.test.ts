/**
 * Security rules of the collections added for sending, through the Firebase
 * JS SDK as apps use it (the emulator runs with firestore.rules):
 * preferences are their owner's to read only; access keys and API guards are
 * closed to every client, staff included.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { connectFirestoreEmulator, doc, getDoc, getFirestore, serverTimestamp, setDoc, setLogLevel, Timestamp, type Firestore } from "firebase/firestore";
import { adminDb } from "../tools/lib/admin.ts";
import { signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { stackEnv } from "../tools/lib/env.ts";

function firestoreOf(user: ClientUser): Firestore {
  const db = getFirestore(user.app);
  const [host, port] = stackEnv("FIRESTORE_EMULATOR_HOST").split(":");
  connectFirestoreEmulator(db, host as string, Number(port));
  return db;
}

async function denied(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (err: { code?: string }) => err.code === "permission-denied");
}

describe("security rules: preferences, access keys, API guards, messages with an audience", () => {
  const users: ClientUser[] = [];
  before(() => setLogLevel("silent"));
  after(async () => {
    await Promise.all(users.map((u) => u.close()));
  });

  it("lets a user read only their own preferences, and nobody write them", async () => {
    const owner = await signedInUser();
    const staff = await signedInUser({ pushSender: true });
    users.push(owner, staff);
    await adminDb().collection("preferences").doc(owner.uid as string).set({ mutedCategories: ["news"] });
    const own = firestoreOf(owner);
    assert.deepEqual((await getDoc(doc(own, "preferences", owner.uid as string))).data(), { mutedCategories: ["news"] });
    await denied(getDoc(doc(firestoreOf(staff), "preferences", owner.uid as string)));
    await denied(setDoc(doc(own, "preferences", owner.uid as string), { mutedCategories: [] }));
  });

  it("keeps accessKeys and apiGuards closed to every client", async () => {
    const staff = await signedInUser({ pushSender: true });
    users.push(staff);
    const keyId = `k-${randomUUID()}`;
    await adminDb().collection("accessKeys").doc(keyId).set({ hash: "x" });
    await adminDb().collection("apiGuards").doc(keyId).set({ failures: 1 });
    const db = firestoreOf(staff);
    for (const collection of ["accessKeys", "apiGuards"]) {
      await denied(getDoc(doc(db, collection, keyId)));
      await denied(setDoc(doc(db, collection, `new-${randomUUID()}`), { x: 1 }));
    }
  });

  it("lets a sender create a message with an audience for themselves only, never its recipient count or expansion", async () => {
    const staff = await signedInUser({ pushSender: true });
    const user = await signedInUser();
    users.push(staff, user);
    const db = firestoreOf(staff);
    const message = (extra: Record<string, unknown> = {}) => ({
      title: "From the console",
      body: "Hello",
      senderId: staff.uid,
      createdAt: serverTimestamp(),
      audience: { users: [`nobody-${randomUUID()}`] },
      category: "news",
      vars: {},
      sendAt: Timestamp.fromMillis(Date.now() + 3_600_000),
      ...extra,
    });
    await setDoc(doc(db, "messages", `ok-${randomUUID()}`), message());
    // (A real audience: the functions expand these; one that matches no device keeps the stack idle.)
    await setDoc(doc(db, "messages", `ok-${randomUUID()}`), message({ audience: { where: { nobody: randomUUID() }, match: "all" }, sendAt: null }));
    await denied(setDoc(doc(db, "messages", `other-${randomUUID()}`), message({ senderId: "someone-else" })));
    await denied(setDoc(doc(firestoreOf(user), "messages", `plain-${randomUUID()}`), { ...message(), senderId: user.uid }));
    for (const extra of [{ recipientCount: 0 }, { recipientsWrittenAt: serverTimestamp() }, { invalid: null }, { audience: "everyone" }, { audience: {} }, { sendAt: "tomorrow" }, { category: 7 }]) {
      await denied(setDoc(doc(db, "messages", `bad-${randomUUID()}`), message(extra)));
    }
    await denied(getDoc(doc(db, "messages", "any", "expansion", "00")));
    await denied(setDoc(doc(db, "messages", "any", "expansion", "00"), { done: true }));
  });
});
