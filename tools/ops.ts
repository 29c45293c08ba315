/**
 * Operations: the emergency stop and delivery metrics.
 *
 *   npm run ops -- pause --reason "<text>" [--json]   stop every FCM send (work keeps being accepted)
 *   npm run ops -- resume [--json]                    deliver what waited, each recipient once
 *   npm run ops -- status [--json]                    the stop, and each delivery queue's state and backlog
 *   npm run ops -- stats [--hours 24] [--json]        delivery outcomes per hour
 *   npm run ops -- probe [--json]                     one FCM validate_only send: does FCM accept this project now?
 *   npm run ops -- retirements [--confirm|--discard]  retirements held by the guard against mass retirement; carry them out or forget them
 *   npm run ops -- fcm-rate [<perMinute>|default]     the project's FCM rate (sends a minute, all paths together): show it, set it without a deploy, or go back to FCM_MESSAGES_PER_MINUTE
 *   npm run ops -- migrate-mutes [--json]             copy each app user's muted categories onto their devices (once, after deploying the copy; safe to run again)
 *
 * Like `npm run keys`: against the emulators when FIRESTORE_EMULATOR_HOST is
 * set (inside or beside the local stack), else against `--project <id>` (or
 * GOOGLE_CLOUD_PROJECT) with application default credentials, which also pause
 * and resume the Cloud Tasks queues.
 */
import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { readHours } from "../functions/src/ops/metrics.ts";
import { summarizeHour, type DeliveryStatus, type HourRow } from "../functions/src/ops/schema.ts";
import { deliveryStatus, setDeliveryPaused } from "../functions/src/ops/stop.ts";
import { FCM_STOP_BY, probeFcm } from "../functions/src/ops/fcm.ts";
import { readFcmRate, setFcmRate } from "../functions/src/ops/fcmBudget.ts";
import { guardStatus, settleHeldRetirements } from "../functions/src/ops/retirementGuard.ts";
import { migrateMutes } from "../functions/src/ops/mutes.ts";
import { standInMessaging } from "../functions/src/fcm/client.ts";
import { getMessaging } from "firebase-admin/messaging";
import { adminApp } from "../functions/src/shared/firestore.ts";

const USAGE = `usage:
  npm run ops -- pause --reason "<text>" [--json] [--project <id>]
  npm run ops -- resume [--json] [--project <id>]
  npm run ops -- status [--json] [--project <id>]
  npm run ops -- stats [--hours 24] [--json] [--project <id>]
  npm run ops -- probe [--json] [--project <id>]
  npm run ops -- retirements [--confirm | --discard] [--json] [--project <id>]
  npm run ops -- fcm-rate [<perMinute> | default] [--json] [--project <id>]
  npm run ops -- migrate-mutes [--json] [--project <id>]`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    reason: { type: "string" },
    hours: { type: "string" },
    json: { type: "boolean" },
    confirm: { type: "boolean" },
    discard: { type: "boolean" },
    project: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

function printStatus(status: DeliveryStatus): void {
  if (values.json) {
    console.log(JSON.stringify(status, null, 2));
    return;
  }
  console.log(status.paused ? `Delivery is PAUSED since ${status.at} by ${status.by}: ${status.reason ?? "(no reason given)"}` : `Delivery is running${status.at ? ` (last changed ${status.at} by ${status.by})` : ""}.`);
  if (status.paused && status.by === FCM_STOP_BY) {
    console.log("FCM refused the project (see the reason). Fix what it names (the FCM API enabled, the runtime account's role, the project id);");
    console.log("the stop lifts by itself within a minute of FCM answering normally (fcmProbe), or now with `npm run ops -- resume`.");
  }
  if (status.queues.length === 0) console.log("Queues: none administered here (the Cloud Tasks emulator has no administration API).");
  for (const queue of status.queues) {
    if (queue.error) console.log(`Queue ${queue.name}: could not be read: ${queue.error}`);
    else console.log(`Queue ${queue.name}: ${queue.state}, ~${queue.tasks ?? "?"} tasks waiting${queue.oldestEstimatedArrival ? `, oldest due ${queue.oldestEstimatedArrival}` : ""}`);
  }
}

function printStats(rows: HourRow[]): void {
  if (values.json) {
    console.log(JSON.stringify({ hours: rows.map((row) => ({ ...row, summary: summarizeHour(row) })) }, null, 2));
    return;
  }
  const header = ["hour (UTC)", "accepted", "failed", "unregistered", "skipped", "cancelled", "retries", "retired", "rescued"];
  const lines = rows.map((row) => {
    const s = summarizeHour(row);
    return [s.hour.slice(0, 13).replace("T", " ") + ":00", s.accepted, s.failed, s.unregistered, s.skipped, s.cancelled, s.retries, s.tokensRetired, s.rescued].map(String);
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const format = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join("  ");
  console.log(format(header));
  for (const line of lines) console.log(format(line));
}

async function main(): Promise<number> {
  const [command] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (values.project) process.env.GOOGLE_CLOUD_PROJECT = process.env.GCLOUD_PROJECT = values.project;
  if (!process.env.GOOGLE_CLOUD_PROJECT && !process.env.GCLOUD_PROJECT) {
    console.error("No project: pass --project <id>, set GOOGLE_CLOUD_PROJECT, or run inside the local stack.");
    return 2;
  }
  const by = `ops-cli:${userInfo().username}`;
  switch (command) {
    case "pause": {
      const reason = values.reason?.trim();
      if (!reason) {
        console.error('pause needs --reason "<text>": it is shown on every report while delivery is stopped.');
        return 2;
      }
      printStatus(await setDeliveryPaused(true, reason.slice(0, 500), by));
      return 0;
    }
    case "resume":
      printStatus(await setDeliveryPaused(false, null, by));
      return 0;
    case "status": {
      printStatus(await deliveryStatus());
      const guard = await guardStatus();
      if (!values.json && (guard.holding || guard.held > 0)) {
        console.log(`Retirements HELD since ${guard.since}: ${guard.reason}. ${guard.held} device(s) await \`npm run ops -- retirements --confirm\` (or --discard).`);
      }
      return 0;
    }
    case "retirements": {
      if (values.confirm && values.discard) {
        console.error("retirements: --confirm or --discard, not both.");
        return 2;
      }
      const action = values.confirm ? "confirm" : values.discard ? "discard" : undefined;
      const settled = action ? await settleHeldRetirements(action) : undefined;
      const result = { ...(await guardStatus()), ...settled };
      if (values.json) console.log(JSON.stringify(result, null, 2));
      else if (action && settled) console.log(`${action === "confirm" ? "Confirmed" : "Discarded"} ${settled.settled} held retirement(s); ${settled.retired} device(s) retired. The guard is released.`);
      else console.log(result.holding ? `Retirements HELD since ${result.since}: ${result.reason}. ${result.held} device(s) held.` : `No retirements held (${result.held} left over).`);
      return 0;
    }
    case "stats": {
      const hours = Number(values.hours ?? 24);
      if (!Number.isInteger(hours) || hours < 1 || hours > 24 * 31) {
        console.error("--hours must be a whole number from 1 to 744.");
        return 2;
      }
      printStats(await readHours(hours));
      return 0;
    }
    case "probe": {
      // Beside the local stack, the FCM stand-in plays FCM; otherwise the real FCM, with application default credentials.
      const standIn = process.env.FIRESTORE_EMULATOR_HOST ? process.env.FCM_STAND_IN_URL : undefined;
      const project = process.env.GOOGLE_CLOUD_PROJECT ?? process.env.GCLOUD_PROJECT ?? "";
      const probe = await probeFcm(standIn ? standInMessaging(new URL(standIn), project) : getMessaging(adminApp()));
      if (values.json) console.log(JSON.stringify(probe, null, 2));
      else console.log(probe.healthy ? `FCM accepts project ${project}: ${probe.answer}` : `FCM refuses project ${project}: ${probe.answer}`);
      return probe.healthy ? 0 : 1;
    }
    case "fcm-rate": {
      const [, value] = positionals;
      const perMinute = value === undefined || value === "default" ? null : Number(value);
      if (perMinute !== null && (!Number.isInteger(perMinute) || perMinute < 1)) {
        console.error("fcm-rate: a whole number of sends a minute (FCM's default quota is 600000), or `default`.");
        return 2;
      }
      if (value !== undefined) await setFcmRate(perMinute, by);
      const rate = await readFcmRate();
      if (values.json) console.log(JSON.stringify({ perMinute: rate, source: rate === null ? "FCM_MESSAGES_PER_MINUTE" : "ops/fcmBudget" }, null, 2));
      else console.log(rate === null ? "FCM rate: the parameter FCM_MESSAGES_PER_MINUTE's (600000 unless functions/.env sets it)." : `FCM rate: ${rate} sends a minute, all sending paths together (set here; \`npm run ops -- fcm-rate default\` goes back to FCM_MESSAGES_PER_MINUTE).`);
      return 0;
    }
    case "migrate-mutes": {
      const counts = await migrateMutes();
      if (values.json) console.log(JSON.stringify(counts, null, 2));
      else console.log(`Read ${counts.devices} app users' devices; gave ${counts.copied} their user's muted categories (the others had them already).`);
      if (!values.json && counts.changed > 0) console.log(`${counts.changed} device(s) changed while they were read and were left alone; run this again to check them.`);
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
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
