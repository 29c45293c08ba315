import { existsSync, readFileSync } from "node:fs";
import { parseEnv } from "node:util";
/** Stack addresses exported by `npm run with-stack`. A missing one is a failure, never a skip. */
export function stackEnv(name: "GCLOUD_PROJECT" | "FIRESTORE_EMULATOR_HOST" | "FIREBASE_AUTH_EMULATOR_HOST" | "CLOUD_TASKS_EMULATOR_HOST" | "FUNCTIONS_EMULATOR_ORIGIN" | "FCM_STAND_IN_URL" | "HOSTING_ORIGIN" | "CLOUD_TASKS_ADMIN_URL" | "TRANSLATE_STAND_IN_URL" | "METER_URL" | "WEBHOOK_RECEIVER_URL"): string {
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
 * (functions/.env.<project> over functions/.env, as the Functions emulator
 * loads them), so tests and tools never keep a copy of a value that can drift.
 */
export function stackParam(name: string): number {
  for (const file of [`.env.${PROJECT_ID}`, ".env"]) {
    const value = new RegExp(`^${name}=(.*)$`, "m").exec(readFileSync(new URL(`../../functions/${file}`, import.meta.url), "utf8"))?.[1];
    if (value === undefined) continue;
    const number = Number(value.trim());
    if (!Number.isFinite(number)) throw new Error(`${name} in functions/${file} is not a number`);
    return number;
  }
  throw new Error(`${name} is set neither in functions/.env.${PROJECT_ID} nor in functions/.env`);
}
export { REGION } from "../../functions/src/shared/region.ts";

/**
 * An address in Fastly's published ranges (the local stack's
 * HOSTING_PROXY_RANGES is `fastly`): the last X-Forwarded-For hop of a request
 * that came through Firebase Hosting, as Google's front end appends it. The
 * Hosting emulator forwards X-Forwarded-For as the client sent it and appends
 * nothing, so tests write the whole chain themselves.
 */
export const HOSTING_EDGE = "151.101.64.10";

/**
 * X-Forwarded-For as a function behind Hosting receives it: whatever the
 * client sent (`sent`), the client's address as Hosting's CDN appends it, then
 * the CDN's own address as the front end appends it.
 */
export function throughHosting(client: string, sent?: string): string {
  return [sent, client, HOSTING_EDGE].filter(Boolean).join(", ");
}

/**
 * The functions' params of a project (functions/.env, then .env.<project>
 * over it, as deploys and the emulator read them) put into process.env where
 * not set already: for a tool that runs the functions' own code (DEVICES_PER_USER
 * in `npm run import`), which reads params as the deployed functions would.
 */
export function loadFunctionParams(project: string): void {
  const merged: Record<string, string> = {};
  for (const file of [".env", `.env.${project}`]) {
    const url = new URL(`../../functions/${file}`, import.meta.url);
    if (existsSync(url)) Object.assign(merged, parseEnv(readFileSync(url, "utf8")));
  }
  for (const [name, value] of Object.entries(merged)) process.env[name] ??= value;
}
