/** Stack addresses exported by `npm run with-stack`. A missing one is a failure, never a skip. */
export function stackEnv(name: "GCLOUD_PROJECT" | "FIRESTORE_EMULATOR_HOST" | "FIREBASE_AUTH_EMULATOR_HOST" | "CLOUD_TASKS_EMULATOR_HOST" | "FUNCTIONS_EMULATOR_ORIGIN" | "FCM_STAND_IN_URL" | "HOSTING_ORIGIN"): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests inside the local stack (npm test, or npm run with-stack -- …)`);
  return value;
}

export const PROJECT_ID = "demo-push";
export const REGION = "us-central1";
