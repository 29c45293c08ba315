/**
 * Local accounts for people trying the console: a staff user with the
 * `pushSender` and `pushAdmin` claims (so the operations panel can be tried
 * too), and a demo student with one phone to send to. Runs
 * against the Auth and Firestore emulators named in the environment; used by
 * `npm start` (the demo seed) and `npm run staff` (any staff account).
 */
import { getApps, initializeApp, type App } from "firebase-admin/app";
import { getAuth } from "firebase-admin/auth";
import { getFirestore, Timestamp } from "firebase-admin/firestore";
import { userAttributesId } from "../functions/src/devices/attributes.ts";
import { PROJECT_ID } from "./lib/env.ts";

export const PROJECT = PROJECT_ID;
export const DEMO_STAFF = { email: "staff@example.com", password: "staff-password" };
export const DEMO_PHONE = { deviceId: "demo-phone-0001", userId: "demo-student", email: "student@example.com", token: "demo-token-0001" };

function app(): App {
  if (!process.env.FIREBASE_AUTH_EMULATOR_HOST || !process.env.FIRESTORE_EMULATOR_HOST) {
    throw new Error("FIREBASE_AUTH_EMULATOR_HOST and FIRESTORE_EMULATOR_HOST must name the local emulators: seeding never touches a real project");
  }
  return getApps().find((a) => a.name === "seed") ?? initializeApp({ projectId: PROJECT }, "seed");
}

/** The staff claims an account ends with: its other claims kept, pushSender/pushAdmin set or taken away. */
export function staffClaims(current: Record<string, unknown> | undefined, { admin = false, emergency = false, remove = false }): Record<string, unknown> {
  const { pushSender: _sender, pushAdmin: _admin, pushEmergency: _emergency, ...others } = current ?? {};
  if (remove) return others;
  return { ...others, pushSender: true, ...(admin && { pushAdmin: true }), ...(emergency && { pushEmergency: true }) };
}

/**
 * Creates the account if it is missing (or resets its password) and sets its
 * claims to pushSender, plus pushAdmin (the operations panel) when `admin`.
 */
export async function ensureStaff(email: string, password: string, { admin = false, emergency = false } = {}): Promise<{ uid: string; created: boolean }> {
  const auth = getAuth(app());
  let uid: string;
  let created = false;
  try {
    uid = (await auth.getUserByEmail(email)).uid;
    await auth.updateUser(uid, { password });
  } catch (err) {
    if ((err as { code?: string }).code !== "auth/user-not-found") throw err;
    uid = (await auth.createUser({ email, password, emailVerified: true })).uid;
    created = true;
  }
  await auth.setCustomUserClaims(uid, staffClaims((await auth.getUser(uid)).customClaims, { admin, emergency }));
  return { uid, created };
}

/** The demo staff account, and a student whose Android phone is registered as registerDevice leaves it. */
export async function seedDemo(): Promise<void> {
  await ensureStaff(DEMO_STAFF.email, DEMO_STAFF.password, { admin: true, emergency: true });
  const auth = getAuth(app());
  try {
    await auth.createUser({ uid: DEMO_PHONE.userId, email: DEMO_PHONE.email, password: "student-password" });
  } catch (err) {
    if ((err as { code?: string }).code !== "auth/uid-already-exists" && (err as { code?: string }).code !== "auth/email-already-exists") throw err;
  }
  const now = Timestamp.now();
  // The school's attributes of the student (as setUserAttributes writes them), and their copy on the phone: what the console's Attributes audience matches.
  const attributes = { grade: 9, school: "north" };
  await getFirestore(app())
    .collection("userAttributes")
    .doc(userAttributesId(DEMO_PHONE.userId))
    .set({ userId: DEMO_PHONE.userId, tenant: "app", attributes, updatedAt: now, updatedBy: "demo-seed" });
  await getFirestore(app())
    .collection("devices")
    .doc(DEMO_PHONE.deviceId)
    .set({
      userId: DEMO_PHONE.userId,
      token: DEMO_PHONE.token,
      platform: "android",
      enabled: true,
      badge: 0,
      locale: "en-GB",
      timezone: "Europe/London",
      attributes,
      createdAt: now,
      updatedAt: now,
      retired: false,
      retiredAt: null,
      retiredReason: null,
    });
}
