/**
 * Manages the HTTPS API's access keys:
 *
 *   npm run keys -- create --name <name> --scopes devices:write,messages:send[,messages:broadcast] [--ip 10.0.0.0/8,2001:db8::/32]
 *   npm run keys -- list
 *   npm run keys -- revoke <keyId>
 *
 * Against the Firestore emulator when FIRESTORE_EMULATOR_HOST is set (e.g.
 * inside `npm run with-stack -- npm run keys -- list`); otherwise against the
 * project of `--project <id>` or GOOGLE_CLOUD_PROJECT, with application default
 * credentials (`gcloud auth application-default login`). The secret is
 * printed once, at creation: only its hash is stored.
 */
import { parseArgs } from "node:util";
import { createKey, listKeys, revokeKey } from "../functions/src/keys/service.ts";
import { KEY_SCOPES } from "../functions/src/shared/contract.ts";

const USAGE = `usage:
  npm run keys -- create --name <name> --scopes <${KEY_SCOPES.join(",")}> [--ip <cidr,…>] [--project <id>]
  npm run keys -- list [--project <id>]
  npm run keys -- revoke <keyId> [--project <id>]`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { name: { type: "string" }, scopes: { type: "string" }, ip: { type: "string" }, project: { type: "string" }, help: { type: "boolean", short: "h" } },
});

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
      const key = await createKey({ name: values.name, scopes: list(values.scopes) as Array<(typeof KEY_SCOPES)[number]>, ipRanges: list(values.ip) });
      console.log(`Created key ${key.keyId} "${key.name}" (${target}) with scopes ${key.scopes.join(", ")}${key.ipRanges.length ? `, allowed from ${key.ipRanges.join(", ")}` : ""}.`);
      console.log(`Secret (shown only now; store it safely):\n${key.secret}`);
      return 0;
    }
    case "list": {
      const keys = await listKeys();
      if (keys.length === 0) console.log(`No keys (${target}).`);
      for (const key of keys) {
        console.log(`${key.keyId}  ${key.disabled ? "REVOKED" : "active "}  ${key.name}  scopes=${key.scopes.join(",")}  ip=${key.ipRanges.join(",") || "any"}  created=${key.createdAt}${key.revokedAt ? `  revoked=${key.revokedAt}` : ""}`);
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
