/**
 * Staff accounts and their claims.
 *
 *   npm run staff -- --email someone@example.com --password secret123 [--admin] [--emergency]
 *       the local stack: creates (or updates) the account in the Auth emulator
 *       with pushSender (and pushAdmin with --admin, pushEmergency with
 *       --emergency: may send emergency messages), to sign in to the
 *       console with. Beside `npm start` (honours STACK_PORT_OFFSET), or
 *       inside `npm run with-stack -- npm run staff -- …`.
 *
 *   npm run staff -- --project <id> --email it-office@district.example [--admin] [--emergency] | --remove [--password …]
 *       a real project, with application default credentials: gives an
 *       account pushSender (and pushAdmin with --admin, pushEmergency with --emergency), or takes them away
 *       with --remove, keeping any other claim it has. The account must exist
 *       (Firebase console → Authentication → Add user) unless --password is
 *       given to create it. A claim reaches the console at the next sign-in.
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";

const USAGE = `usage:
  npm run staff -- --email <email> --password <at least 6 characters> [--admin] [--emergency]          (the local stack)
  npm run staff -- --project <id> --email <email> [--admin] [--emergency] | --remove [--password <…>]   (a real project)`;

const { values } = parseArgs({
  options: { email: { type: "string" }, password: { type: "string" }, project: { type: "string" }, admin: { type: "boolean" }, emergency: { type: "boolean" }, remove: { type: "boolean" } },
});

async function production(project: string, email: string): Promise<number> {
  if (process.env.FIREBASE_AUTH_EMULATOR_HOST) {
    console.error(`FIREBASE_AUTH_EMULATOR_HOST is set (${process.env.FIREBASE_AUTH_EMULATOR_HOST}): unset it to change project ${project}'s accounts.`);
    return 2;
  }
  if ((values.admin || values.emergency) && values.remove) {
    console.error("--admin / --emergency or --remove, not both.");
    return 2;
  }
  const { initializeApp } = await import("firebase-admin/app");
  const { getAuth } = await import("firebase-admin/auth");
  const auth = getAuth(initializeApp({ projectId: project }, "staff"));
  let user;
  try {
    user = await auth.getUserByEmail(email);
  } catch (err) {
    if ((err as { code?: string }).code !== "auth/user-not-found") throw err;
    if (!values.password) {
      console.error(`no account ${email} in project ${project}: add it in the Firebase console (Authentication → Users → Add user), or pass --password to create it.`);
      return 1;
    }
    user = await auth.createUser({ email, password: values.password, emailVerified: true });
  }
  const { staffClaims } = await import("./seed.ts");
  const claims = staffClaims(user.customClaims, { admin: values.admin, emergency: values.emergency, remove: values.remove });
  await auth.setCustomUserClaims(user.uid, claims);
  console.log(`${email} (uid ${user.uid}) in project ${project}: claims now ${JSON.stringify(claims)}; they apply at the next sign-in.`);
  return 0;
}

async function emulator(email: string, password: string | undefined): Promise<number> {
  if (!password || password.length < 6) {
    console.error(USAGE);
    return 2;
  }
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const offset = Number(process.env.STACK_PORT_OFFSET ?? 0);
  const emulators = (JSON.parse(readFileSync(join(root, "firebase.json"), "utf8")) as { emulators: Record<string, { host: string; port: number }> }).emulators;
  const at = (name: string) => `${emulators[name]?.host}:${Number(emulators[name]?.port) + offset}`;
  process.env.FIREBASE_AUTH_EMULATOR_HOST ??= at("auth");
  process.env.FIRESTORE_EMULATOR_HOST ??= at("firestore");
  const { ensureStaff } = await import("./seed.ts");
  try {
    const { uid, created } = await ensureStaff(email, password, { admin: values.admin, emergency: values.emergency });
    console.log(`${created ? "created" : "updated"} staff account ${email} (uid ${uid}) with pushSender${values.admin ? " and pushAdmin" : ""}${values.emergency ? " and pushEmergency" : ""} in the Auth emulator at ${process.env.FIREBASE_AUTH_EMULATOR_HOST}`);
    return 0;
  } catch (err) {
    console.error(`could not create the staff account: ${String(err)} (is the stack running? npm start)`);
    return 1;
  }
}

if (!values.email) {
  console.error(USAGE);
  process.exit(2);
}
try {
  process.exit(values.project ? await production(values.project, values.email) : await emulator(values.email, values.password));
} catch (err) {
  console.error(`could not change the account: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
