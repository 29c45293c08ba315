/**
 * Security rules for every read the staff console makes, through the JS SDK
 * as the page makes them: the history (all, and one sender's, newest first),
 * a message and its counter documents (live), and a page of failed
 * recipients. Staff (pushSender) may; other users may not; nobody writes
 * counters.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { randomUUID } from "node:crypto";
import {
  collection,
  connectFirestoreEmulator,
  deleteDoc,
  doc,
  getDoc,
  getDocs,
  getFirestore,
  limit,
  onSnapshot,
  orderBy,
  query,
  setDoc,
  setLogLevel,
  where,
  type Firestore,
} from "firebase/firestore";
import { adminDb } from "../tools/lib/admin.ts";
import { signedInUser, type ClientUser } from "../tools/lib/client.ts";
import { stackEnv } from "../tools/lib/env.ts";
import { createMessage } from "../tools/lib/fixtures.ts";

function firestoreOf(user: ClientUser): Firestore {
  const db = getFirestore(user.app);
  const [host, port] = stackEnv("FIRESTORE_EMULATOR_HOST").split(":");
  connectFirestoreEmulator(db, host as string, Number(port));
  return db;
}

async function denied(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (err: { code?: string }) => err.code === "permission-denied");
}

/** The first snapshot of a listener, or its error. */
function firstSnapshot<T>(subscribe: (next: (value: T) => void, fail: (err: Error) => void) => () => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const stop = subscribe(
      (value) => (stop(), resolve(value)),
      (err) => reject(err),
    );
  });
}

describe("security rules: the console's reads", () => {
  let staff: ClientUser;
  let user: ClientUser;
  let messageId: string;
  before(async () => {
    setLogLevel("silent");
    staff = await signedInUser({ pushSender: true });
    user = await signedInUser();
    messageId = await createMessage({ senderId: staff.uid, recipientCount: 2, recipientsWrittenAt: new Date() });
    const message = adminDb().collection("messages").doc(messageId);
    await message.collection("counters").doc("0").set({ counts: { "200": 1, "400": 1 }, updatedAt: new Date() });
    await message.collection("recipients").doc("a").set({ deviceId: "device-a", userId: "u", status: 400, statusMessage: "bad token", attempts: 1 });
    await message.collection("recipients").doc("b").set({ deviceId: "device-b", userId: "u", status: 200, statusMessage: null, attempts: 1 });
  });
  after(async () => {
    await staff.close();
    await user.close();
  });

  it("lets staff read the history, all of it or their own, newest first", async () => {
    const db = firestoreOf(staff);
    const all = await getDocs(query(collection(db, "messages"), orderBy("createdAt", "desc"), limit(20)));
    assert.ok(all.docs.some((d) => d.id === messageId));
    const own = await getDocs(query(collection(db, "messages"), where("senderId", "==", staff.uid), orderBy("createdAt", "desc"), limit(20)));
    assert.deepEqual(own.docs.map((d) => d.id), [messageId]);
    const other = firestoreOf(user);
    await denied(getDocs(query(collection(other, "messages"), orderBy("createdAt", "desc"), limit(20))));
  });

  it("lets staff watch a message and its counters, and nobody else", async () => {
    const db = firestoreOf(staff);
    const message = await firstSnapshot<{ exists: () => boolean }>((next, fail) => onSnapshot(doc(db, "messages", messageId), next, fail));
    assert.ok(message.exists());
    const counters = await firstSnapshot<{ docs: Array<{ data: () => unknown }> }>((next, fail) => onSnapshot(collection(db, "messages", messageId, "counters"), next, fail));
    assert.deepEqual(counters.docs.map((d) => (d.data() as { counts: unknown }).counts), [{ "200": 1, "400": 1 }]);
    const other = firestoreOf(user);
    await denied(getDoc(doc(other, "messages", messageId)));
    await denied(getDocs(collection(other, "messages", messageId, "counters")));
  });

  it("lets staff read a page of failed recipients", async () => {
    const db = firestoreOf(staff);
    const failed = await getDocs(query(collection(db, "messages", messageId, "recipients"), where("status", ">", 200), orderBy("status"), limit(11)));
    assert.deepEqual(failed.docs.map((d) => d.id), ["a"]);
    await denied(getDocs(query(collection(firestoreOf(user), "messages", messageId, "recipients"), where("status", ">", 200), orderBy("status"), limit(11))));
  });

  it("lets no client write counters, staff included", async () => {
    const db = firestoreOf(staff);
    await denied(setDoc(doc(db, "messages", messageId, "counters", `x-${randomUUID()}`), { counts: { "200": 5 } }));
    await denied(setDoc(doc(db, "messages", messageId, "counters", "0"), { counts: { "200": 5 } }));
    await denied(deleteDoc(doc(db, "messages", messageId, "counters", "0")));
  });
});
