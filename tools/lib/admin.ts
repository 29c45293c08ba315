import { getApps, initializeApp, type App } from "firebase-admin/app";
import { getAuth } from "firebase-admin/auth";
import { getFirestore, type Firestore } from "firebase-admin/firestore";
import { PROJECT_ID, stackEnv } from "./env.ts";

/** The admin SDK, pointed at the emulators by the stack's environment. */
export function adminApp(): App {
  stackEnv("FIRESTORE_EMULATOR_HOST");
  stackEnv("FIREBASE_AUTH_EMULATOR_HOST");
  // A named service account spares firebase-admin a metadata-server lookup (there is none here)
  // when it mints custom tokens or enqueues tasks on the emulators.
  return getApps()[0] ?? initializeApp({ projectId: PROJECT_ID, serviceAccountId: `tests@${PROJECT_ID}.iam.gserviceaccount.com` });
}

export function adminDb(): Firestore {
  return getFirestore(adminApp());
}

export function adminAuth() {
  return getAuth(adminApp());
}
