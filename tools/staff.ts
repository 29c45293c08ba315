/**
 * `npm run staff -- --email someone@example.com --password secret123`: a staff
 * account with the pushSender claim in the Auth emulator, to sign in to the
 * console with. Beside `npm start` (honours STACK_PORT_OFFSET), or inside
 * `npm run with-stack -- npm run staff -- …`.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const offset = Number(process.env.STACK_PORT_OFFSET ?? 0);
const emulators = (JSON.parse(readFileSync(join(root, "firebase.json"), "utf8")) as { emulators: Record<string, { host: string; port: number }> }).emulators;
const at = (name: string) => `${emulators[name]?.host}:${Number(emulators[name]?.port) + offset}`;
process.env.FIREBASE_AUTH_EMULATOR_HOST ??= at("auth");
process.env.FIRESTORE_EMULATOR_HOST ??= at("firestore");

const { values } = parseArgs({ options: { email: { type: "string" }, password: { type: "string" } } });
if (!values.email || !values.password || values.password.length < 6) {
  console.error("usage: npm run staff -- --email <email> --password <at least 6 characters>");
  process.exit(2);
}
const { ensureStaff } = await import("./seed.ts");
try {
  const { uid, created } = await ensureStaff(values.email, values.password);
  console.log(`${created ? "created" : "updated"} staff account ${values.email} (uid ${uid}) with pushSender in the Auth emulator at ${process.env.FIREBASE_AUTH_EMULATOR_HOST}`);
} catch (err) {
  console.error(`could not create the staff account: ${String(err)} (is the stack running? npm start)`);
  process.exit(1);
}
