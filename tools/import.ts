/**
 * Imports existing devices (tokens) from a CSV file into one tenant:
 *
 *   npm run import -- devices.csv --tenant <name> [--dry-run] [--map token=identifier,…] [--platforms 1=android,…] [--platform android] [--project <id>]
 *
 * Against the local stack by default (beside `npm start`, honouring
 * STACK_PORT_OFFSET, or inside `npm run with-stack -- …`); against a real
 * project with `--project <id>` and application default credentials. Each
 * row is checked with the schema registerDevice uses and registered by the
 * functions' own import (functions/src/devices/import.ts); the report names
 * every rejected row by number, field and reason, never its token. Exit
 * code 0 when no row was rejected, 1 otherwise, 2 for bad usage.
 * The columns, the mappings for other systems' exports and resuming:
 * docs/senders.md, "Bulk import".
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { OWN_TENANT_PREFIX, tenantSchema } from "../functions/src/keys/schema.ts";
import { APP_TENANT, PLATFORMS } from "../functions/src/shared/contract.ts";
import { loadFunctionParams, PROJECT_ID } from "./lib/env.ts";
import { IMPORT_FIELDS, importCsv, progressPath, type ImportProgress } from "./lib/importCsv.ts";

const USAGE = `usage:
  npm run import -- <file.csv> --tenant <name> [--dry-run] [--map <field>=<column>,…] [--platforms <value>=<platform>,…] [--platform <${PLATFORMS.join("|")}>] [--project <id>]

--tenant     whose devices they become: a partner's or Moodle site's tenant (a key's own is key-<keyId>),
             or "${APP_TENANT}" (user ids are then the apps' Firebase uids)
--dry-run    report what would change; write nothing
--map        the file's column for each of our fields: ${IMPORT_FIELDS.join(", ")}, userInfo.<name>
--platforms  the file's platform values as ours, e.g. 1=android (a value not listed is taken as it is)
--platform   the platform of rows that have none
--project    a real project (application default credentials) instead of the local stack`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    tenant: { type: "string" },
    "dry-run": { type: "boolean" },
    map: { type: "string" },
    platforms: { type: "string" },
    platform: { type: "string" },
    project: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

/** `a=b,c=d` as { a: "b", c: "d" }, or the pair that is not one. */
function pairs(value: string | undefined, option: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const pair of (value ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
    const at = pair.indexOf("=");
    if (at <= 0 || at === pair.length - 1) throw new UsageError(`--${option}: "${pair}" is not <name>=<value>.`);
    result[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return result;
}

class UsageError extends Error {}

/** A tenant a key can have: a named one, a key's own (`key-<keyId>`), or the apps' users. */
function validTenant(name: string): boolean {
  return name === APP_TENANT || tenantSchema.safeParse(name).success || new RegExp(`^${OWN_TENANT_PREFIX}[0-9a-f]{16}$`).test(name);
}

/** Where the writes go: the local stack's Firestore emulator unless --project names a real project. */
function target(): string {
  if (values.project) {
    if (process.env.FIRESTORE_EMULATOR_HOST) throw new UsageError(`FIRESTORE_EMULATOR_HOST is set (${process.env.FIRESTORE_EMULATOR_HOST}): unset it to import into project ${values.project}.`);
    process.env.GOOGLE_CLOUD_PROJECT = process.env.GCLOUD_PROJECT = values.project;
    return `project ${values.project}`;
  }
  if (!process.env.FIRESTORE_EMULATOR_HOST) {
    const root = join(dirname(fileURLToPath(import.meta.url)), "..");
    const firestore = (JSON.parse(readFileSync(join(root, "firebase.json"), "utf8")) as { emulators: Record<string, { host: string; port: number }> }).emulators.firestore;
    process.env.FIRESTORE_EMULATOR_HOST = `${firestore?.host}:${Number(firestore?.port) + Number(process.env.STACK_PORT_OFFSET ?? 0)}`;
  }
  process.env.GCLOUD_PROJECT ??= PROJECT_ID;
  return `the local stack (${process.env.FIRESTORE_EMULATOR_HOST}, project ${process.env.GCLOUD_PROJECT})`;
}

function minutes(seconds: number): string {
  return seconds < 90 ? `${Math.ceil(seconds)} s` : `${Math.round(seconds / 60)} min`;
}

function progressLine({ rows, done, rowsPerSecond, secondsLeft }: ImportProgress): string {
  return `${rows.toLocaleString("en")} rows · ${Math.round(rowsPerSecond).toLocaleString("en")} rows/s · ${(done * 100).toFixed(1)}% of the file${secondsLeft === undefined ? "" : ` · about ${minutes(secondsLeft)} left`}`;
}

async function main(): Promise<number> {
  const [file, ...extra] = positionals;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!file || extra.length > 0 || !values.tenant) throw new UsageError(USAGE);
  if (!validTenant(values.tenant)) throw new UsageError(`--tenant "${values.tenant}" is no tenant a key can have (lower-case letters, digits and dashes; key-<keyId>; or ${APP_TENANT}).`);
  if (values.platform !== undefined && !(PLATFORMS as readonly string[]).includes(values.platform)) throw new UsageError(`--platform must be one of ${PLATFORMS.join(", ")}.`);
  const where = target();
  loadFunctionParams(process.env.GCLOUD_PROJECT ?? PROJECT_ID);
  const dryRun = values["dry-run"] ?? false;
  console.log(`${dryRun ? "Dry run: nothing is written. " : ""}Importing ${file} into tenant ${values.tenant} on ${where}.`);
  const live = process.stderr.isTTY;
  const result = await importCsv(file, {
    tenant: values.tenant,
    dryRun,
    map: pairs(values.map, "map"),
    platforms: pairs(values.platforms, "platforms"),
    ...(values.platform !== undefined && { platform: values.platform }),
    // On a terminal the line is rewritten in place; in a log, one line every few seconds.
    onProgress: (progress) => process.stderr.write(live ? `\r${progressLine(progress)}  ` : `${progressLine(progress)}\n`),
  });
  if (live) process.stderr.write("\n");
  if (result.ignored.length > 0) console.log(`Columns ignored: ${result.ignored.join(", ")}.`);
  if (result.resumedAfter > 0) console.log(`Resumed after row ${result.resumedAfter}, which an earlier run had committed (its report covered those rows).`);
  for (const row of result.rejected) console.log(`row ${row.row}: ${row.field ?? ""}: ${row.reason ?? ""}`);
  const { imported, updated, unchanged, rejected } = result.counts;
  console.log(`${dryRun ? "Would import" : "Imported"} ${imported}, ${dryRun ? "would update" : "updated"} ${updated}, unchanged ${unchanged}, rejected ${rejected}.`);
  if (!dryRun && rejected === 0) console.log("Running the same file again reports every row unchanged.");
  return rejected === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(err.message);
      process.exit(2);
    }
    console.error(`import stopped: ${err instanceof Error ? err.message : String(err)}`);
    if (positionals[0] && existsSync(progressPath(positionals[0]))) console.error(`Run the same command again to go on after the last committed row (${progressPath(positionals[0])}).`);
    process.exit(1);
  },
);
