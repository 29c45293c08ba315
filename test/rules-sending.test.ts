/**
 * Security rules of the collections added for sending, through the Firebase
 * JS SDK as apps use it (the emulator runs with firestore.rules):
 * preferences are their owner's to read only; access keys and API guards are
 * closed to every client, staff included.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { connectFirestoreEmulator, doc, getDoc, getFirestore, setDoc, setLogLevel, type Firestore } from "firebase/firestore";
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

describe("security rules: preferences, access keys, API guards", () => {
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
});
