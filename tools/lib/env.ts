import { readFileSync } from "node:fs";
/** Stack addresses exported by `npm run with-stack`. A missing one is a failure, never a skip. */
export function stackEnv(name: "GCLOUD_PROJECT" | "FIRESTORE_EMULATOR_HOST" | "FIREBASE_AUTH_EMULATOR_HOST" | "CLOUD_TASKS_EMULATOR_HOST" | "FUNCTIONS_EMULATOR_ORIGIN" | "FCM_STAND_IN_URL" | "HOSTING_ORIGIN" | "CLOUD_TASKS_ADMIN_URL"): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the tests inside the local stack (npm test, or npm run with-stack -- …)`);
  return value;
}

/** The local stack's project, from where Firebase reads it (.firebaserc's default). */
export const PROJECT_ID: string = (() => {
  const rc = JSON.parse(readFileSync(new URL("../../.firebaserc", import.meta.url), "utf8")) as { projects?: { default?: unknown } };
  const id = rc.projects?.default;
  if (typeof id !== "string" || !id) throw new Error(".firebaserc has no default project");
  return id;
})();

/**
 * A param of the local stack, read from where the stack defines it
 * (functions/.env.<project>, which the Functions emulator loads), so tests
 * and tools never keep a copy of a value that can drift.
 */
export function stackParam(name: string): number {
  const file = new URL(`../../functions/.env.${PROJECT_ID}`, import.meta.url);
  const value = new RegExp(`^${name}=(.*)$`, "m").exec(readFileSync(file, "utf8"))?.[1];
  if (value === undefined) throw new Error(`${name} is not set in functions/.env.${PROJECT_ID}`);
  const number = Number(value.trim());
  if (!Number.isFinite(number)) throw new Error(`${name} in functions/.env.${PROJECT_ID} is not a number`);
  return number;
}
export { REGION } from "../../functions/src/shared/region.ts";
