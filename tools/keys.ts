/**
 * Manages access keys (the partner API's and Moodle sites'):
 *
 *   npm run keys -- create --surface moodle|api --name <name> --scopes devices:write,messages:send[,messages:broadcast][,messages:emergency][,users:write][,devices:import][,webhooks:write] [--tenant <name>] [--ip 10.0.0.0/8,2001:db8::/32]
 *   npm run keys -- list
 *   npm run keys -- revoke <keyId>
 *   npm run keys -- migrate <keyId> --surface moodle|api [--tenant <name>]   (a key made before surfaces and tenants)
 *   npm run keys -- migrate-devices                                           (devices registered before tenants)
 *
 * Against the Firestore emulator when FIRESTORE_EMULATOR_HOST is set (e.g.
 * inside `npm run with-stack -- npm run keys -- list`); otherwise against the
 * project of `--project <id>` or GOOGLE_CLOUD_PROJECT, with application default
 * credentials (`gcloud auth application-default login`). The secret is
 * printed once, at creation: only its hash is stored.
 */
import { parseArgs } from "node:util";
import { migrateDevices, migrateKey } from "../functions/src/ops/tenants.ts";
import { createKey, listKeys, revokeKey } from "../functions/src/keys/service.ts";
import { KEY_SCOPES, KEY_SURFACES, type KeySurface } from "../functions/src/shared/contract.ts";

const USAGE = `usage:
  npm run keys -- create --surface <${KEY_SURFACES.join("|")}> --name <name> --scopes <${KEY_SCOPES.join(",")}> [--tenant <name>] [--ip <cidr,…>] [--new-devices-per-day <n>] [--project <id>]
  npm run keys -- list [--project <id>]
  npm run keys -- revoke <keyId> [--project <id>]
  npm run keys -- migrate <keyId> --surface <${KEY_SURFACES.join("|")}> [--tenant <name>] [--project <id>]
  npm run keys -- migrate-devices [--project <id>]

--surface   moodle: the AirNotifier endpoints a Moodle site calls; api: the partner API /v1
--tenant    whose users and devices the key reaches (default: a tenant of its own, key-<keyId>);
            keys sharing a tenant share its users and devices; "app" sends to the apps' signed-in users
--new-devices-per-day   a Moodle key's cap on devices it creates per day (default MOODLE_NEW_DEVICES_PER_KEY_PER_DAY)`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: "string" },
    scopes: { type: "string" },
    ip: { type: "string" },
    surface: { type: "string" },
    tenant: { type: "string" },
    "new-devices-per-day": { type: "string" },
    project: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

/** --surface is required wherever a key gets one: what a key reaches is never a default. */
function surfaceArg(): KeySurface | undefined {
  if ((KEY_SURFACES as readonly string[]).includes(values.surface ?? "")) return values.surface as KeySurface;
  console.error(values.surface === undefined ? `--surface is required: ${KEY_SURFACES.join(" or ")} (the endpoints the key works on).` : `--surface must be ${KEY_SURFACES.join(" or ")}, not "${values.surface}".`);
  return undefined;
}

const list = (value: string | undefined) => (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);

async function main(): Promise<number> {
  const [command, ...args] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (values.project) process.env.GOOGLE_CLOUD_PROJECT = process.env.GCLOUD_PROJECT = values.project;
  if (!process.env.GOOGLE_CLOUD_PROJECT && !process.env.GCLOUD_PROJECT) {
    console.error("No project: pass --project <id>, set GOOGLE_CLOUD_PROJECT, or run inside the local stack.");
    return 2;
  }
  const target = process.env.FIRESTORE_EMULATOR_HOST ? `emulator ${process.env.FIRESTORE_EMULATOR_HOST}` : `project ${process.env.GOOGLE_CLOUD_PROJECT ?? process.env.GCLOUD_PROJECT}`;
  switch (command) {
    case "create": {
      if (!values.name || !values.scopes) {
        console.error(USAGE);
        return 2;
      }
      const surface = surfaceArg();
      if (!surface) return 2;
      const key = await createKey({
        name: values.name,
        scopes: list(values.scopes) as Array<(typeof KEY_SCOPES)[number]>,
        ipRanges: list(values.ip),
        surface,
        ...(values.tenant !== undefined && { tenant: values.tenant }),
        ...(values["new-devices-per-day"] !== undefined && { newDevicesPerDay: Number(values["new-devices-per-day"]) }),
      });
      console.log(`Created ${key.surface} key ${key.keyId} "${key.name}" (${target}) of tenant ${key.tenant} with scopes ${key.scopes.join(", ")}${key.ipRanges.length ? `, allowed from ${key.ipRanges.join(", ")}` : ""}.`);
      console.log(`Secret (shown only now; store it safely):\n${key.secret}`);
      return 0;
    }
    case "list": {
      const keys = await listKeys();
      if (keys.length === 0) console.log(`No keys (${target}).`);
      for (const key of keys) {
        const status = key.disabled ? "REVOKED" : key.surface === null ? "MIGRATE" : "active ";
        console.log(
          `${key.keyId}  ${status}  ${key.name}  surface=${key.surface ?? "none"}  tenant=${key.tenant ?? "none"}  scopes=${key.scopes.join(",")}  ip=${key.ipRanges.join(",") || "any"}  created=${key.createdAt}${key.revokedAt ? `  revoked=${key.revokedAt}` : ""}`,
        );
      }
      return 0;
    }
    case "revoke": {
      const keyId = args[0];
      if (!keyId) {
        console.error(USAGE);
        return 2;
      }
      if (!(await revokeKey(keyId))) {
        console.error(`No key ${keyId} (${target}).`);
        return 1;
      }
      console.log(`Revoked key ${keyId} (${target}).`);
      return 0;
    }
    case "migrate": {
      const keyId = args[0];
      if (!keyId) {
        console.error(USAGE);
        return 2;
      }
      const surface = surfaceArg();
      if (!surface) return 2;
      const migrated = await migrateKey(keyId, surface, values.tenant);
      if (!migrated) {
        console.error(`No key ${keyId} (${target}).`);
        return 1;
      }
      console.log(`Key ${keyId} (${target}) now works on ${migrated.surface} for tenant ${migrated.tenant}. Run migrate-devices once every key is migrated.`);
      return 0;
    }
    case "migrate-devices": {
      const counts = await migrateDevices();
      console.log(`Devices given a tenant (${target}): ${counts.app} to the apps' users, ${counts.site} to their Moodle site's tenant.`);
      if (counts.waiting > 0) console.log(`${counts.waiting} Moodle devices wait for their site's key to be migrated; run this again after that.`);
      return 0;
    }
    default:
      console.error(USAGE);
      return 2;
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    // A bad --scopes or --ip fails the key schema: say which value and why, not zod's JSON.
    const issues = (err as { issues?: Array<{ path: PropertyKey[]; message: string }> }).issues;
    if (Array.isArray(issues)) for (const issue of issues) console.error(`--${issue.path[0] === "ipRanges" ? "ip" : String(issue.path[0] ?? "")} ${issue.path.slice(1).map(String).join(".")}: ${issue.message}`.replace(/ :/, ":"));
    else console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
