/**
 * The local stack: the Firebase Emulator Suite (Firestore, Functions, Cloud Tasks,
 * Auth, Pub/Sub) plus the FCM stand-in.
 *
 *   tsx tools/stack.ts -- <command> [args…]   run a command inside the stack, exit with its code
 *   tsx tools/stack.ts --interactive          run the stack in the foreground (npm start)
 *
 * On machines with Google's gcloud emulator packages (no internet needed) the
 * emulators come from there; elsewhere firebase-tools downloads its own.
 */
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { startCloudTasksStandIn } from "./cloud-tasks-stand-in.ts";
import { startStandIn } from "./fcm-stand-in.ts";
import { startTranslateStandIn } from "./translate-stand-in.ts";
import { startWebhookReceiver } from "./webhook-receiver.ts";
import { startMeter, type Meter } from "./meter.ts";
import { triggerScheduled, triggerScheduledSweep } from "./scheduler.ts";
import { DEMO_PHONE, DEMO_STAFF, seedDemo } from "./seed.ts";
import { emulatorAppCheckToken } from "./lib/appCheck.ts";
import { PROJECT_ID } from "./lib/env.ts";
import { productionNode } from "./runtime.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const PROJECT = PROJECT_ID;
const EMULATORS = "functions,firestore,tasks,auth,pubsub,hosting";
/**
 * STACK_PORT_OFFSET shifts every port, so that a second stack (another
 * checkout, a benchmark beside the tests) can run on the same machine.
 */
const PORT_OFFSET = Number(process.env.STACK_PORT_OFFSET ?? 0);
const STAND_IN_PORT = Number(process.env.FCM_STAND_IN_PORT ?? 9399) + PORT_OFFSET;
const TASKS_ADMIN_PORT = 9398 + PORT_OFFSET;
const TRANSLATE_STAND_IN_PORT = Number(process.env.TRANSLATE_STAND_IN_PORT ?? 9395) + PORT_OFFSET;
/** The local webhook receiver (tools/webhook-receiver.ts): a partner endpoint the functions may call on 127.0.0.1. */
const WEBHOOK_RECEIVER_PORT = 9394 + PORT_OFFSET;
/**
 * STACK_METER=1 (npm run bench:cost) puts the meter between the functions and
 * the Firestore and Cloud Tasks emulators (tools/meter.ts); nothing else runs
 * through it.
 */
const METERED = process.env.STACK_METER === "1";
const METER_FIRESTORE_PORT = 9397 + PORT_OFFSET;
const METER_TASKS_PORT = 9396 + PORT_OFFSET;

interface EmulatorAddress {
  host: string;
  port: number;
}

const firebaseConfig = JSON.parse(readFileSync(join(root, "firebase.json"), "utf8")) as { emulators: Record<string, Partial<EmulatorAddress> & { websocketPort?: number }> };
const emulatorConfig = firebaseConfig.emulators;
for (const entry of Object.values(emulatorConfig)) {
  if (entry.port) entry.port += PORT_OFFSET;
  if (entry.websocketPort) entry.websocketPort += PORT_OFFSET;
}

/** The config file firebase-tools runs with: firebase.json itself, or a copy with shifted ports beside it. */
function configFile(): string {
  if (PORT_OFFSET === 0) return "firebase.json";
  const name = `.firebase.stack-${PORT_OFFSET}.json`;
  writeFileSync(join(root, name), JSON.stringify(firebaseConfig, null, 2));
  return name;
}

function address(name: string): EmulatorAddress {
  const entry = emulatorConfig[name];
  if (!entry?.host || !entry.port) throw new Error(`firebase.json has no host and port for the ${name} emulator`);
  return { host: entry.host, port: entry.port };
}

function portIsFree(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, host, () => probe.close(() => resolve(true)));
  });
}

/** A stack left running (or anything else on our ports) would make the emulators hang or fail oddly: say so plainly. */
async function checkPorts(): Promise<void> {
  const wanted: Array<[string, number, string]> = [
    ["FCM stand-in", STAND_IN_PORT, "127.0.0.1"],
    ["Cloud Tasks administration stand-in", TASKS_ADMIN_PORT, "127.0.0.1"],
    ["Translation stand-in", TRANSLATE_STAND_IN_PORT, "127.0.0.1"],
    ["webhook receiver", WEBHOOK_RECEIVER_PORT, "127.0.0.1"],
  ];
  if (METERED) wanted.push(["meter (Firestore)", METER_FIRESTORE_PORT, "127.0.0.1"], ["meter (Cloud Tasks)", METER_TASKS_PORT, "127.0.0.1"]);
  for (const [name, entry] of Object.entries(emulatorConfig)) {
    if (entry.port) wanted.push([name, entry.port, entry.host ?? "127.0.0.1"]);
    const ws = entry.websocketPort;
    if (ws) wanted.push([`${name} websocket`, ws, entry.host ?? "127.0.0.1"]);
  }
  const busy: string[] = [];
  for (const [name, port, host] of wanted) {
    if (!(await portIsFree(port, host))) busy.push(`${name} (${host}:${port})`);
  }
  if (busy.length > 0) {
    console.error(
      `[stack] These ports are already in use: ${busy.join(", ")}.\n` +
        "[stack] A local stack from an earlier run is probably still running (npm start in another terminal?).\n" +
        "[stack] Stop it first (Ctrl-C in its terminal, or end its java/firebase processes), then try again.",
    );
    process.exit(1);
  }
}

/**
 * Hosting serves the console's build. Setup builds it; should a stack start
 * without one (a half-finished install), a plain page still answers `/`, so the
 * Moodle check page and the rewrites work and the page says what is missing.
 */
function ensureHostingRoot(): void {
  const dist = join(root, "console", "dist");
  if (existsSync(join(dist, "index.html"))) return;
  mkdirSync(dist, { recursive: true });
  writeFileSync(join(dist, "index.html"), "<!doctype html><title>Push service</title><p>The staff console is not built: run <code>npm run setup</code>.</p>\n");
}

/**
 * The console finds the emulators through this file when the stack serves it
 * (their ports move with STACK_PORT_OFFSET). Written beside the build at every
 * start; a deployed console never reads it.
 */
function writeConsoleConfig(): void {
  const at = (name: string) => `${address(name).host}:${address(name).port}`;
  const config = { projectId: PROJECT, emulators: { auth: at("auth"), functions: at("functions"), firestore: at("firestore") } };
  writeFileSync(join(root, "console", "dist", "stack.json"), `${JSON.stringify(config, null, 2)}\n`);
}

/** Points firebase-tools at the gcloud emulators when they are installed, so nothing is downloaded. */
function localEmulatorOverrides(): Record<string, string> {
  const sdkRoot = findSdkRoot();
  if (!sdkRoot) {
    console.log("[stack] gcloud emulators not found: firebase-tools will download its own.");
    return {};
  }
  const overrides: Record<string, string> = {};
  const firestoreJar = join(sdkRoot, "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar");
  if (existsSync(firestoreJar) && !process.env.FIRESTORE_EMULATOR_BINARY_PATH) {
    // gcloud's jar has no Main-Class, and firebase-tools starts it with `java -jar`:
    // a manifest-only launcher jar names the class and puts gcloud's jar on the class path.
    const cache = join(root, ".cache", "emulators");
    mkdirSync(cache, { recursive: true });
    const launcher = join(cache, "firestore-launcher.jar");
    const manifest = join(cache, "firestore-manifest.txt");
    const text = `Main-Class: com.google.cloud.datastore.emulator.firestore.CloudFirestore\nClass-Path: ${pathToManifestUrl(firestoreJar)}\n`;
    if (!existsSync(launcher) || !existsSync(manifest) || readFileSync(manifest, "utf8") !== text) {
      writeFileSync(manifest, text);
      const built = spawnSync("jar", ["cfm", launcher, manifest], { stdio: "inherit" });
      if (built.status !== 0) throw new Error("could not build the Firestore launcher jar with the JDK's `jar` tool");
    }
    overrides.FIRESTORE_EMULATOR_BINARY_PATH = launcher;
  }
  const pubsub = join(sdkRoot, "platform/pubsub-emulator/bin/cloud-pubsub-emulator");
  if (existsSync(pubsub) && !process.env.PUBSUB_EMULATOR_BINARY_PATH) overrides.PUBSUB_EMULATOR_BINARY_PATH = pubsub;
  return overrides;
}

function pathToManifestUrl(path: string): string {
  // Manifest Class-Path entries are URLs: absolute file URLs work wherever the cache lives.
  return new URL(`file://${path}`).href;
}

function findSdkRoot(): string | undefined {
  const asked = spawnSync("gcloud", ["info", "--format=value(installation.sdk_root)"], { encoding: "utf8" });
  const fromGcloud = asked.status === 0 ? asked.stdout.trim() : "";
  for (const candidate of [fromGcloud, "/usr/lib/google-cloud-sdk"]) {
    if (candidate && existsSync(join(candidate, "platform"))) return candidate;
  }
  return undefined;
}

function stackEnvironment(standInUrl: string, tasksAdminUrl: string, translateUrl: string, receiverUrl: string): Record<string, string> {
  const firestore = address("firestore");
  const auth = address("auth");
  const tasks = address("tasks");
  const functions = address("functions");
  const pubsub = address("pubsub");
  const hosting = address("hosting");
  return {
    GCLOUD_PROJECT: PROJECT,
    GOOGLE_CLOUD_PROJECT: PROJECT,
    FIRESTORE_EMULATOR_HOST: `${firestore.host}:${firestore.port}`,
    FIREBASE_AUTH_EMULATOR_HOST: `${auth.host}:${auth.port}`,
    CLOUD_TASKS_EMULATOR_HOST: `${tasks.host}:${tasks.port}`,
    PUBSUB_EMULATOR_HOST: `${pubsub.host}:${pubsub.port}`,
    FUNCTIONS_EMULATOR_ORIGIN: `http://${functions.host}:${functions.port}`,
    FCM_STAND_IN_URL: standInUrl,
    HOSTING_ORIGIN: `http://${hosting.host}:${hosting.port}`,
    CLOUD_TASKS_ADMIN_URL: tasksAdminUrl,
    TRANSLATE_STAND_IN_URL: translateUrl,
    WEBHOOK_RECEIVER_URL: receiverUrl,
    // The emulator-only allowance (functions/src/webhooks/settings.ts): the receiver, and nothing else local.
    WEBHOOK_LOCAL_TARGETS: new URL(receiverUrl).host,
  };
}

function printWelcome(env: Record<string, string>): void {
  const fn = env.FUNCTIONS_EMULATOR_ORIGIN;
  console.log(`
┌──────────────────────────────────────────────────────────────────────────────
│ Push service local stack is ready (project ${PROJECT}, region us-central1).
│
│   Firestore     ${env.FIRESTORE_EMULATOR_HOST}
│   Auth          ${env.FIREBASE_AUTH_EMULATOR_HOST}
│   Functions     ${fn}   callables at ${fn}/${PROJECT}/us-central1/<name>
│   Cloud Tasks   ${env.CLOUD_TASKS_EMULATOR_HOST}
│   Pub/Sub       ${env.PUBSUB_EMULATOR_HOST}
│   Hosting       ${env.HOSTING_ORIGIN}   the staff console at /, the AirNotifier-compatible endpoints for Moodle
│   FCM stand-in  ${env.FCM_STAND_IN_URL}   (GET /_stand-in/messages lists what was "delivered")
│   Cloud Tasks queue administration stand-in  ${env.CLOUD_TASKS_ADMIN_URL}   (GET /_stand-in/requests)
│   Translation stand-in  ${env.TRANSLATE_STAND_IN_URL}   (GET /_stand-in/requests lists what was translated)
│   Webhook receiver  ${env.WEBHOOK_RECEIVER_URL}   register http://${env.WEBHOOK_LOCAL_TARGETS}/<any path> as a webhook (GET /_receiver/deliveries)
│
│ Staff console: open ${env.HOSTING_ORIGIN}/ and sign in as ${DEMO_STAFF.email} / ${DEMO_STAFF.password}
│ (a demo phone, device ${DEMO_PHONE.deviceId} of user ${DEMO_PHONE.userId}, is registered to send to).
│ More staff accounts: npm run staff -- --email you@example.com --password secret123
│
│ Try it (in another terminal): \`npm run demo\` registers a phone, sends it a message through
│ sendMessage and prints the report and what the stand-in received. Or by hand, sign up a user
│ in the Auth emulator, then register a device (App Check is enforced here as in production; the
│ emulator accepts this unsigned App Check token, production only one App Check issued):
│   TOKEN=$(curl -s -X POST -H 'Content-Type: application/json' -d '{"email":"me@example.com","password":"secret123","returnSecureToken":true}' \\
│     'http://${env.FIREBASE_AUTH_EMULATOR_HOST}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=any' | sed 's/.*"idToken": *"\\([^"]*\\)".*/\\1/')
│   curl -s -X POST -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
│     -H 'X-Firebase-AppCheck: ${emulatorAppCheckToken()}' \\
│     -d '{"data":{"deviceId":"my-phone-0001","token":"demo-token-1","platform":"android"}}' ${fn}/${PROJECT}/us-central1/registerDevice
│
│ Press Ctrl-C to stop.
└──────────────────────────────────────────────────────────────────────────────`);
}

async function main(): Promise<void> {
  const { interactive, command } = parseArgs(process.argv.slice(2));
  if (!interactive && command.length === 0) {
    console.error("usage: npm run with-stack -- <command> [args…]   (or npm start for an interactive stack)");
    process.exit(2);
  }

  await checkPorts();
  ensureHostingRoot();
  writeConsoleConfig();
  const standIn = await startStandIn({
    port: STAND_IN_PORT,
    latencyMs: Number(process.env.FCM_STAND_IN_LATENCY_MS ?? 0),
    failureRate: Number(process.env.FCM_STAND_IN_FAILURE_RATE ?? 0),
  });
  // The Cloud Tasks emulator has no queue administration API: the ops code's pause and resume of the queues go here.
  const tasksAdmin = await startCloudTasksStandIn({ port: TASKS_ADMIN_PORT });
  // The Cloud Translation API has no emulator: machine translation (autoTranslate, translateDraft) goes here.
  const translate = await startTranslateStandIn({ port: TRANSLATE_STAND_IN_PORT });
  const receiver = await startWebhookReceiver({ port: WEBHOOK_RECEIVER_PORT });
  const stackEnv = stackEnvironment(standIn.url, tasksAdmin.url, translate.url, receiver.url);
  const meter = METERED ? await startStackMeter(stackEnv) : undefined;
  const env = { ...process.env, ...localEmulatorOverrides(), ...stackEnv, ...(meter && meteredEnvironment(meter)) };
  // firebase-tools would otherwise look for updates on a network these machines do not have.
  env.NO_UPDATE_NOTIFIER = "1";
  // The Functions emulator starts a worker process per concurrent request and gives up on one not
  // loaded within 30 s, leaving its request unanswered; on a busy two-core machine loading can take
  // longer, so allow two minutes (what it measures is this machine's load, not our code).
  env.FUNCTIONS_DISCOVERY_TIMEOUT ??= "120";
  // firebase-tools runs the functions on the Node.js it runs on when that is the
  // major version functions/package.json asks for: start it on production's.
  const node = productionNode();
  if ("missing" in node) {
    console.error(`[stack] ${node.missing}`);
    process.exit(1);
  }
  console.log(`[stack] functions run on Node.js ${node.version} (${node.source}), the production runtime's major version`);
  const firebase = join(root, "node_modules", "firebase-tools", "lib", "bin", "firebase.js");
  const base = ["--config", configFile(), "--project", PROJECT, "--only", EMULATORS];
  const firebaseArgs = interactive
    ? ["emulators:start", ...base]
    : ["emulators:exec", ...base, command.map(shellQuote).join(" ")];

  // No stdin for a scripted run: a prompt (a param without a value) must fail loudly, not wait forever.
  const child = spawn(node.path, [firebase, ...firebaseArgs], { cwd: root, env, stdio: [interactive ? "inherit" : "ignore", "pipe", "inherit"] });
  const logPath = join(root, ".cache", "functions.log");
  const functionLogWritten = routeOutput(child.stdout, logPath, interactive || process.env.STACK_VERBOSE === "1", (line) => {
    if (interactive && line.includes("All emulators ready")) {
      process.env.FIREBASE_AUTH_EMULATOR_HOST = stackEnv.FIREBASE_AUTH_EMULATOR_HOST;
      process.env.FIRESTORE_EMULATOR_HOST = stackEnv.FIRESTORE_EMULATOR_HOST;
      seedDemo().then(
        () => printWelcome(stackEnv),
        (err: unknown) => {
          console.error(`[stack] could not seed the demo staff account and phone: ${String(err)}`);
          printWelcome(stackEnv);
        },
      );
      scheduleSweeps(stackEnv.FUNCTIONS_EMULATOR_ORIGIN ?? "");
    }
  });
  const stop = () => child.kill("SIGINT");
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const code = await new Promise<number>((resolve) => child.on("exit", (status, signal) => resolve(status ?? (signal ? 1 : 0))));
  await standIn.close();
  await tasksAdmin.close();
  await translate.close();
  await receiver.close();
  await meter?.close();
  if (!interactive) {
    await functionLogWritten;
    if (code !== 0) printFunctionErrors(logPath);
    console.log(`[stack] function logs of this run: ${logPath}`);
  }
  process.exit(code);
}

/** The emulator's own complaints about a function (a timeout, a request that failed): kept in the log file as well. */
const EMULATOR_FUNCTION_FAULT = /(Your function timed out|Request to function failed)/;

/**
 * After a failed run, the last error lines the functions logged, printed
 * where a CI log (which keeps only the tail of the output) still shows them.
 */
function printFunctionErrors(logPath: string): void {
  const lines = readFileSync(logPath, "utf8").split("\n");
  const errors = lines.filter((line) => line.includes('"severity":"ERROR"') || EMULATOR_FUNCTION_FAULT.test(line)).slice(-30);
  if (errors.length === 0) return;
  console.log(`[stack] the last ${errors.length} error lines the functions logged:`);
  for (const line of errors) console.log(`[stack]   ${line.slice(0, 400)}`);
}

/**
 * Function log lines (firebase-tools prefixes them with ">") and the per-call
 * start/finish lines go to a log file so that a test run's own output stays
 * readable; everything else passes through. Resolves once the log file holds
 * every line.
 */
function routeOutput(stream: NodeJS.ReadableStream, logPath: string, showFunctionLogs: boolean, onLine: (line: string) => void): Promise<void> {
  mkdirSync(dirname(logPath), { recursive: true });
  const log = createWriteStream(logPath);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  const written = new Promise<void>((resolve) => lines.on("close", () => log.end(resolve)));
  lines.on("line", (line) => {
    if (EMULATOR_FUNCTION_FAULT.test(line)) log.write(`${line}\n`);
    if (line.startsWith(">  ") || /^i {2}functions: (Beginning execution|Finished) /.test(line)) {
      log.write(`${line}\n`);
      if (!showFunctionLogs) return;
    }
    process.stdout.write(`${line}\n`);
    onLine(line);
  });
  return written;
}

/**
 * The Pub/Sub emulator drops the messages meant for 2nd-gen scheduled
 * functions, so nothing would ever run `sweep` under `npm start`. Play Cloud
 * Scheduler instead: call its trigger every STACK_SWEEP_MINUTES (1; deployed,
 * SWEEP_SCHEDULE says every 5) with Cloud Scheduler's headers. Every minute
 * rather than five because locally the sweep is also what releases a message
 * scheduled more than a few seconds ahead (the Cloud Tasks emulator runs its
 * held task at once, so that task cannot wait for sendAt).
 */
function scheduleSweeps(functionsOrigin: string): void {
  const minutes = Number(process.env.STACK_SWEEP_MINUTES ?? 1);
  if (!(minutes > 0)) return;
  const run = async () => {
    try {
      const res = await triggerScheduledSweep(functionsOrigin, PROJECT);
      console.log(`[stack] ran the scheduled sweep, as Cloud Scheduler would (HTTP ${res.status})`);
    } catch (err) {
      console.error(`[stack] could not run the scheduled sweep: ${String(err)}`);
    }
  };
  setInterval(() => void run(), minutes * 60_000).unref();
  // fcmProbe runs every minute deployed: it lifts a stop set by an FCM project-level fault.
  const probe = () => triggerScheduled("fcmProbe", functionsOrigin, PROJECT).catch((err: unknown) => console.error(`[stack] could not run fcmProbe: ${String(err)}`));
  setInterval(() => void probe(), 60_000).unref();
}

function startStackMeter(stackEnv: Record<string, string>): Promise<Meter> {
  return startMeter({
    firestorePort: METER_FIRESTORE_PORT,
    tasksPort: METER_TASKS_PORT,
    firestoreUpstream: stackEnv.FIRESTORE_EMULATOR_HOST ?? "",
    tasksUpstream: stackEnv.CLOUD_TASKS_EMULATOR_HOST ?? "",
  });
}

/** The function workers load tools/meter-env.mjs, which points them at the meter; the command is told where its journal is. */
function meteredEnvironment(meter: Meter): Record<string, string> {
  const preload = `--import=${pathToFileURL(join(root, "tools", "meter-env.mjs")).href}`;
  return {
    NODE_OPTIONS: [process.env.NODE_OPTIONS, preload].filter(Boolean).join(" "),
    STACK_METER_FIRESTORE: meter.firestoreHost,
    STACK_METER_TASKS: meter.tasksHost,
    METER_URL: meter.url,
  };
}

/** `--interactive` (npm start), or the command to run, optionally after `--`. */
function parseArgs(args: string[]): { interactive: boolean; command: string[] } {
  if (args[0] === "--interactive") return { interactive: true, command: [] };
  return { interactive: false, command: args[0] === "--" ? args.slice(1) : args };
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`;
}

await main();
