/**
 * `npm run preflight`: what can be checked offline before `firebase deploy`.
 *
 *   npm run preflight                 build functions/lib, then check
 *   npm run preflight -- --skip-build  check the functions/lib already built
 *
 * Each check prints ✓ or ✗ and one line of detail (warnings below it, marked
 * !); the exit code is 1 when any check failed. Nothing here talks to Google:
 * the runtime table is the one firebase-tools ships, the rules are compiled by
 * the Firestore emulator's jar on a free local port, and the functions are
 * loaded the way `firebase deploy` discovers them (firebase-functions' own
 * manifest export), on the production Node.js version.
 *
 * Every check is an exported function of a repository root, so the unit test
 * can run it against a deliberately broken copy.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { homedir, tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createRequire } from "node:module";
import ts from "typescript";
import { productionMajor, productionNode } from "./runtime.ts";
import { isTimeZone, parseHourMinute } from "../functions/src/shared/zones.ts";

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

export interface CheckResult {
  name: string;
  ok: boolean;
  /** One line. */
  detail: string;
  /** Things worth knowing that do not fail the check. */
  warnings: string[];
}

function result(name: string, failures: string[], passed: string, warnings: string[] = []): CheckResult {
  return failures.length > 0 ? { name, ok: false, detail: failures.join("; "), warnings } : { name, ok: true, detail: passed, warnings };
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, "utf8")) as unknown;
}

/** A value as text: strings as they are, anything else as JSON. */
const text = (value: unknown): string => (typeof value === "string" ? value : value === undefined ? "" : JSON.stringify(value));
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
const day = (date: Date) => date.toISOString().slice(0, 10);

// ---------------------------------------------------------------------------
// (a) The runtime

export interface RuntimeEntry {
  friendly: string;
  status: string;
  deprecationDate: string;
  decommissionDate: string;
}

/** The Cloud Functions runtime table of the installed firebase-tools (what `firebase deploy` enforces). */
export function runtimeTable(root = REPO_ROOT): { version: string; runtimes: Record<string, RuntimeEntry> } {
  const require = createRequire(join(root, "package.json"));
  const tools = join(root, "node_modules", "firebase-tools");
  const { RUNTIMES } = require(join(tools, "lib", "deploy", "functions", "runtimes", "supported", "types.js")) as { RUNTIMES: Record<string, RuntimeEntry> };
  const { version } = readJson(join(tools, "package.json")) as { version: string };
  return { version, runtimes: RUNTIMES };
}

/**
 * The newest ECMAScript edition each Node.js major runs in full (what a
 * TypeScript `target` may name without emitting syntax or calling built-ins
 * the runtime lacks): 20 lacks ES2024's Object.groupBy and
 * Promise.withResolvers, 22 and 24 have them. A newer major is assumed to run
 * at least what the newest listed one does.
 */
const NODE_ES_EDITION: Record<number, number> = { 18: 2022, 20: 2023, 22: 2024, 24: 2024 };

function esEditionOf(major: number): number {
  const known = Object.keys(NODE_ES_EDITION).map(Number).sort((a, b) => a - b);
  const at = known.filter((k) => k <= major).pop();
  return at === undefined ? 2015 : (NODE_ES_EDITION[at] ?? 2015);
}

function tsconfigTarget(path: string): { name: string; year: number | "next" } {
  const read = ts.readConfigFile(path, (p) => ts.sys.readFile(p));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, " "));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, dirname(path));
  const target = parsed.options.target ?? ts.ScriptTarget.ES5;
  const name = ts.ScriptTarget[target] ?? String(target);
  if (target === ts.ScriptTarget.ESNext) return { name, year: "next" };
  if (target === ts.ScriptTarget.ES5 || target === ts.ScriptTarget.ES3) return { name, year: 2009 };
  const year = Number(/^ES(\d{4})$/.exec(name)?.[1] ?? 2015);
  return { name, year };
}

const firstNumber = (range: string) => Number(/(\d+)/.exec(range)?.[1] ?? NaN);

export interface RuntimeOptions {
  today: Date;
  runtimes: Record<string, RuntimeEntry>;
  /** Where the table comes from, for the detail line. */
  tableSource?: string;
  productionMajor: number;
}

/**
 * functions/package.json's engines.node is one major version, a Cloud
 * Functions runtime that is neither deprecated nor decommissioned today, and
 * the production major; the functions' TypeScript target and @types/node
 * agree with it.
 */
export function checkRuntime(root: string, options: RuntimeOptions): CheckResult {
  const name = "runtime";
  const failures: string[] = [];
  const warnings: string[] = [];
  const manifest = readJson(join(root, "functions", "package.json")) as { engines?: { node?: unknown }; devDependencies?: Record<string, string>; dependencies?: Record<string, string> };
  const engines = text(manifest.engines?.node);
  if (!/^\d+$/.test(engines)) return result(name, [`functions/package.json engines.node is "${engines}", not one major version such as "24"`], "");
  const major = Number(engines);
  const key = `nodejs${major}`;
  const entry = options.runtimes[key];
  const source = options.tableSource ?? "firebase-tools";
  let lifecycle = "";
  if (!entry) {
    const known = Object.keys(options.runtimes).filter((k) => k.startsWith("nodejs"));
    failures.push(`engines.node "${engines}": ${key} is not a Cloud Functions runtime in ${source} (it knows ${known.join(", ")})`);
  } else {
    const deprecated = new Date(entry.deprecationDate);
    const decommissioned = new Date(entry.decommissionDate);
    if (entry.status === "decommissioned" || options.today >= decommissioned) {
      failures.push(`engines.node "${engines}": ${entry.friendly} was decommissioned on ${entry.decommissionDate} (${source}); deploys are refused`);
    } else if (entry.status === "deprecated" || options.today >= deprecated) {
      failures.push(`engines.node "${engines}": ${entry.friendly} is deprecated since ${entry.deprecationDate} and decommissioned on ${entry.decommissionDate} (${source})`);
    } else {
      lifecycle = `${entry.friendly} is supported (deprecated ${entry.deprecationDate}, decommissioned ${entry.decommissionDate}; ${source})`;
      const warnFrom = new Date(deprecated.getTime() - 90 * 24 * 3600 * 1000);
      if (options.today >= warnFrom) warnings.push(`${entry.friendly} is deprecated on ${entry.deprecationDate}: firebase deploy warns from 90 days before`);
    }
  }
  if (major !== options.productionMajor) failures.push(`engines.node "${engines}" is not the production major ${options.productionMajor} (tools/runtime.ts)`);

  let target = "";
  try {
    const t = tsconfigTarget(join(root, "functions", "tsconfig.json"));
    const edition = esEditionOf(major);
    if (t.year === "next") failures.push(`functions/tsconfig.json target ${t.name} follows the compiler, not Node.js ${major}: name an edition (ES${edition})`);
    else if (t.year > edition) failures.push(`functions/tsconfig.json target ${t.name} is newer than Node.js ${major} runs in full (ES${edition})`);
    else target = `tsconfig target ${t.name} (Node.js ${major} runs up to ES${edition})`;
  } catch (err) {
    failures.push(`functions/tsconfig.json: ${err instanceof Error ? err.message : String(err)}`);
  }

  let types = "";
  const declared = manifest.devDependencies?.["@types/node"] ?? manifest.dependencies?.["@types/node"];
  if (!declared) failures.push("functions/package.json does not name @types/node");
  else if (firstNumber(declared) !== major) failures.push(`functions/package.json @types/node "${declared}" is for Node.js ${firstNumber(declared)}, not ${major}`);
  else {
    const installedPath = join(root, "functions", "node_modules", "@types", "node", "package.json");
    const installed = existsSync(installedPath) ? (readJson(installedPath) as { version: string }).version : undefined;
    if (!installed) failures.push("functions/node_modules/@types/node is not installed (npm --prefix functions ci)");
    else if (firstNumber(installed) !== major) failures.push(`functions/node_modules/@types/node is ${installed}, not ${major}.x (npm --prefix functions install)`);
    else types = `@types/node ${declared} (installed ${installed})`;
  }
  return result(name, failures, `engines.node "${engines}" = production major; ${lifecycle}; ${target}; ${types}`, warnings);
}

// ---------------------------------------------------------------------------
// (b) Firestore indexes and rules

/** Source files (.ts) under the given directories of root, skipping node_modules and build output. */
function sourceFiles(root: string, dirs: string[]): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name === "lib" || entry.name === "dist" || entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) files.push(path);
    }
  };
  for (const dir of dirs) walk(join(root, dir));
  return files;
}

/** Every identifier-like word in functions/src: a field or collection an index names must be one of them. */
function wordsOf(files: string[]): Set<string> {
  const words = new Set<string>();
  for (const file of files) for (const match of readFileSync(file, "utf8").matchAll(/[A-Za-z_$][\w$]*/g)) words.add(match[0]);
  return words;
}

export interface QueriedField {
  field: string;
  at: string;
}

/** Fields some query filters or orders on: `.where("x"`, `orderBy("x"`, `where("x"` (web SDK), `new FieldPath("x", …)`. */
export function queriedFields(root: string, dirs = ["functions/src", "tools", "test", "bench", "console/src"]): QueriedField[] {
  const found: QueriedField[] = [];
  const patterns = [/\b(?:where|orderBy)\(\s*["'`]([\w.]+)["'`]/g, /new FieldPath\(\s*["'`](\w+)["'`]/g];
  for (const file of sourceFiles(root, dirs)) {
    const lines = readFileSync(file, "utf8").split("\n");
    lines.forEach((line, i) => {
      for (const pattern of patterns) {
        for (const match of line.matchAll(pattern)) found.push({ field: (match[1] ?? "").split(".")[0] ?? "", at: `${relative(root, file)}:${i + 1}` });
      }
    });
  }
  return found;
}

interface IndexSpec {
  collectionGroup?: unknown;
  queryScope?: unknown;
  fields?: unknown;
}
interface FieldOverride {
  collectionGroup?: unknown;
  fieldPath?: unknown;
  ttl?: unknown;
  indexes?: unknown;
}

const topSegment = (fieldPath: string) => fieldPath.replace(/`/g, "").split(".")[0] ?? "";

/**
 * firestore.indexes.json: valid JSON; accepted by firebase-tools' own index
 * schema (what `firebase deploy` checks); every composite index and override
 * names a collection and fields that functions/src knows; no field is
 * overridden twice, no collection has two TTL fields; and no exemption
 * (`indexes: []`) names a field some query filters or orders on.
 */
export function checkIndexes(root: string, options: { validatorRoot?: string } = {}): CheckResult {
  const name = "indexes";
  const path = join(root, "firestore.indexes.json");
  let spec: unknown;
  try {
    spec = readJson(path);
  } catch (err) {
    return result(name, [`firestore.indexes.json is not valid JSON: ${err instanceof Error ? err.message : String(err)}`], "");
  }
  const failures: string[] = [];
  if (!isObject(spec) || !Array.isArray(spec.indexes)) return result(name, ["firestore.indexes.json must be an object with an `indexes` array"], "");
  if (spec.fieldOverrides !== undefined && !Array.isArray(spec.fieldOverrides)) failures.push("`fieldOverrides` must be an array");
  try {
    const require = createRequire(join(options.validatorRoot ?? REPO_ROOT, "package.json"));
    const { FirestoreApi } = require(join(options.validatorRoot ?? REPO_ROOT, "node_modules", "firebase-tools", "lib", "firestore", "api.js")) as {
      FirestoreApi: new () => { validateSpec(spec: unknown): void; upgradeOldSpec(spec: unknown): unknown };
    };
    const api = new FirestoreApi();
    api.validateSpec(api.upgradeOldSpec(structuredClone(spec)));
  } catch (err) {
    failures.push(`firebase-tools rejects it: ${err instanceof Error ? err.message : String(err)}`);
  }

  const known = wordsOf(sourceFiles(root, ["functions/src"]));
  const unknown = (what: string) => !known.has(what) && what !== "__name__";
  const indexes = spec.indexes as IndexSpec[];
  indexes.forEach((index, i) => {
    const where = `indexes[${i}]`;
    if (typeof index.collectionGroup !== "string" || !index.collectionGroup) return failures.push(`${where}: no collectionGroup`);
    if (unknown(index.collectionGroup)) failures.push(`${where}: collection "${index.collectionGroup}" appears nowhere in functions/src`);
    if (!Array.isArray(index.fields) || index.fields.length < 2) return failures.push(`${where} (${index.collectionGroup}): a composite index needs at least two fields`);
    for (const field of index.fields as Array<{ fieldPath?: unknown }>) {
      if (typeof field.fieldPath !== "string" || !field.fieldPath) failures.push(`${where} (${index.collectionGroup}): a field without fieldPath`);
      else if (unknown(topSegment(field.fieldPath))) failures.push(`${where} (${index.collectionGroup}): field "${field.fieldPath}" appears nowhere in functions/src`);
    }
  });

  const overrides = (Array.isArray(spec.fieldOverrides) ? spec.fieldOverrides : []) as FieldOverride[];
  const seen = new Set<string>();
  const ttlOf = new Map<string, string>();
  const queried = queriedFields(root);
  let ttl = 0;
  let exempt = 0;
  overrides.forEach((override, i) => {
    const where = `fieldOverrides[${i}]`;
    const group = override.collectionGroup;
    const field = override.fieldPath;
    if (typeof group !== "string" || !group || group.includes("/")) return failures.push(`${where}: collectionGroup must be a collection id (no "/")`);
    if (typeof field !== "string" || !field) return failures.push(`${where} (${group}): no fieldPath`);
    const id = `${group}.${field}`;
    if (seen.has(id)) failures.push(`${where}: ${id} is overridden twice`);
    seen.add(id);
    if (unknown(group)) failures.push(`${where}: collection "${group}" appears nowhere in functions/src`);
    if (unknown(topSegment(field))) failures.push(`${where}: field "${field}" appears nowhere in functions/src`);
    if (override.ttl !== undefined && typeof override.ttl !== "boolean") failures.push(`${where} (${id}): ttl must be true or false`);
    if (override.ttl === true) {
      ttl += 1;
      const other = ttlOf.get(group);
      if (other) failures.push(`${where}: ${group} already has the TTL field ${other} (one per collection group)`);
      ttlOf.set(group, field);
    }
    if (!Array.isArray(override.indexes)) return failures.push(`${where} (${id}): indexes must be an array ([] exempts the field)`);
    for (const index of override.indexes as Array<Record<string, unknown>>) {
      if (!isObject(index) || (index.order === undefined) === (index.arrayConfig === undefined)) failures.push(`${where} (${id}): each index has exactly one of order and arrayConfig`);
      else if (index.queryScope !== undefined && index.queryScope !== "COLLECTION" && index.queryScope !== "COLLECTION_GROUP") failures.push(`${where} (${id}): queryScope ${text(index.queryScope)}`);
    }
    if (override.indexes.length === 0) {
      exempt += 1;
      const uses = queried.filter((q) => q.field === topSegment(field));
      if (uses.length > 0) failures.push(`${where}: ${id} is exempted from indexing but a query filters or orders on "${topSegment(field)}" (${uses.map((u) => u.at).join(", ")})`);
    }
  });
  return result(
    name,
    failures,
    `${indexes.length} composite indexes and ${overrides.length} field overrides (${ttl} TTL, ${exempt} exemptions) pass firebase-tools' schema; every collection and field named appears in functions/src; no exempted field is queried in functions/src, tools, test, bench or console/src`,
  );
}

/** The Firestore emulator's jar: FIRESTORE_EMULATOR_JAR, gcloud's component, or the one firebase-tools downloaded. */
let foundJar: { jar: string; launch: "gcloud" | "firebase" } | undefined | null = null;

export function findEmulatorJar(): { jar: string; launch: "gcloud" | "firebase" } | undefined {
  if (foundJar === null) foundJar = lookForEmulatorJar();
  return foundJar;
}

function lookForEmulatorJar(): { jar: string; launch: "gcloud" | "firebase" } | undefined {
  const fromEnv = process.env.FIRESTORE_EMULATOR_JAR;
  if (fromEnv && existsSync(fromEnv)) return { jar: fromEnv, launch: fromEnv.includes("cloud-firestore-emulator-v") ? "firebase" : "gcloud" };
  const gcloud = spawnSync("gcloud", ["info", "--format=value(installation.sdk_root)"], { encoding: "utf8", timeout: 15_000 });
  const sdk = gcloud.status === 0 ? gcloud.stdout.trim() : "";
  const fromSdk = sdk && join(sdk, "platform", "cloud-firestore-emulator", "cloud-firestore-emulator.jar");
  if (fromSdk && existsSync(fromSdk)) return { jar: fromSdk, launch: "gcloud" };
  const cache = join(homedir(), ".cache", "firebase", "emulators");
  const downloaded = existsSync(cache) ? readdirSync(cache).filter((f) => /^cloud-firestore-emulator-v.*\.jar$/.test(f)).sort().pop() : undefined;
  return downloaded ? { jar: join(cache, downloaded), launch: "firebase" } : undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

interface RulesIssue {
  sourcePosition?: { line?: number; column?: number };
  description?: string;
  severity?: string;
}

/** What a file that the rules compiler never saw can still be checked for: the header, the service, balanced braces. */
function structuralRulesCheck(text: string): string[] {
  const problems: string[] = [];
  if (!/^\s*rules_version\s*=\s*['"]2['"];/m.test(text)) problems.push("no rules_version = '2';");
  if (!/service\s+cloud\.firestore\s*\{/.test(text)) problems.push("no `service cloud.firestore {`");
  let depth = 0;
  for (const ch of text.replace(/\/\/.*$/gm, "").replace(/(['"])(?:\\.|(?!\1).)*\1/g, "")) {
    if (ch === "{") depth += 1;
    if (ch === "}") depth -= 1;
    if (depth < 0) break;
  }
  if (depth !== 0) problems.push("unbalanced braces");
  return problems;
}

/** The Firestore emulator, started to compile rules: `compile` answers its issues, `stop` ends the JVM. */
export interface RulesCompiler {
  jar: string;
  compile(text: string): Promise<{ error?: string; issues: string[] }>;
  stop(): Promise<void>;
}

/**
 * Starts the Firestore emulator's jar on a free local port (it has no
 * compile-only mode) and waits until it answers. Its `:securityRules`
 * endpoint compiles what it is given with the emulator's rules compiler.
 */
export async function startRulesCompiler(jar: { jar: string; launch: "gcloud" | "firebase" }, timeoutMs = 30_000): Promise<RulesCompiler> {
  const port = await freePort();
  const args = jar.launch === "gcloud"
    ? ["-Duser.language=en", "-cp", jar.jar, "com.google.cloud.datastore.emulator.firestore.CloudFirestore", "start", "--host=127.0.0.1", `--port=${port}`]
    : ["-Duser.language=en", "-jar", jar.jar, "--host", "127.0.0.1", "--port", String(port)];
  const child = spawn("java", args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const ended = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
    if (!ended) child.kill("SIGKILL");
  };
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the Firestore emulator exited before answering: ${stderr.trim().split("\n").pop() ?? ""}`);
    try {
      await fetch(`${base}/`);
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error("the Firestore emulator did not start within the time limit");
      }
      await new Promise((r) => setTimeout(r, 150));
    }
  }
  return {
    jar: jar.jar,
    stop,
    async compile(text) {
      const response = await fetch(`${base}/emulator/v1/projects/preflight:securityRules`, {
        method: "PUT",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ rules: { files: [{ name: "firestore.rules", content: text }] } }),
      });
      const body = (await response.json().catch(() => ({}))) as { issues?: RulesIssue[]; error?: { message?: string } };
      if (!response.ok) return { error: (body.error?.message ?? `HTTP ${response.status}`).replace(/\s*\n\s*/g, " "), issues: [] };
      const issues = (body.issues ?? []).map((i) => `firestore.rules:${i.sourcePosition?.line ?? "?"}:${i.sourcePosition?.column ?? "?"} ${i.severity ?? ""} ${i.description ?? ""}`.replace(/\s+/g, " "));
      return { issues };
    },
  };
}

/**
 * firestore.rules compiles, with the Firestore emulator's own rules compiler
 * (startRulesCompiler; pass `compiler` to reuse one). Any issue it reports
 * fails the check, warnings too (an unknown function or variable in a rule is
 * a rule that never allows). Without Java or the jar, only a structural check
 * is made, and the output says so.
 */
export async function checkRules(root: string, options: { compiler?: RulesCompiler; jar?: { jar: string; launch: "gcloud" | "firebase" } } = {}): Promise<CheckResult> {
  const name = "rules";
  const path = join(root, "firestore.rules");
  if (!existsSync(path)) return result(name, ["firestore.rules is missing"], "");
  const text = readFileSync(path, "utf8");
  let compiler = options.compiler;
  if (!compiler) {
    const jar = options.jar ?? findEmulatorJar();
    const java = spawnSync("java", ["-version"], { encoding: "utf8" });
    if (!jar || java.status !== 0) {
      const problems = structuralRulesCheck(text);
      const why = !jar ? "no Firestore emulator jar found (gcloud components install cloud-firestore-emulator, or FIRESTORE_EMULATOR_JAR)" : "no Java";
      return result(name, problems.map((p) => `firestore.rules: ${p}`), "firestore.rules was NOT compiled; only its header, service block and braces were checked", [`${why}: the rules were not parsed`]);
    }
    try {
      compiler = await startRulesCompiler(jar);
    } catch (err) {
      return result(name, [err instanceof Error ? err.message : String(err)], "");
    }
  }
  try {
    const compiled = await compiler.compile(text);
    if (compiled.error) return result(name, [`firestore.rules does not compile: ${compiled.error}`], "");
    return result(name, compiled.issues, `firestore.rules compiles with no issues (the Firestore emulator's rules compiler, ${compiler.jar})`);
  } finally {
    if (!options.compiler) await compiler.stop();
  }
}

// ---------------------------------------------------------------------------
// (c) Params documented in docs/deploy.md

export interface DeclaredParam {
  name: string;
  type?: string;
  default?: unknown;
}

/** Params declared in source: every defineInt/defineString/defineBoolean/defineFloat/defineList/defineSecret/defineJsonSecret name. */
export function paramsInSource(root: string): DeclaredParam[] {
  const found = new Map<string, DeclaredParam>();
  for (const file of sourceFiles(root, ["functions/src"])) {
    for (const match of readFileSync(file, "utf8").matchAll(/\bdefine(Int|String|Boolean|Float|List|Secret|JsonSecret)\(\s*["'`]([A-Za-z0-9_]+)["'`]/g)) {
      const name = match[2] ?? "";
      if (!found.has(name)) found.set(name, { name, type: (match[1] ?? "").toLowerCase() });
    }
  }
  return [...found.values()];
}

/** docs/deploy.md's parameter table: rows whose first cell is a `NAME` in backticks, with the default in the second. */
export function documentedParams(markdown: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of markdown.split("\n")) {
    const match = /^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|([^|]*)\|/.exec(line);
    if (match?.[1]) rows.set(match[1], (match[2] ?? "").trim());
  }
  return rows;
}

function sameDefault(documented: string, actual: unknown): boolean {
  const cell = documented.replace(/`/g, "").trim().replace(/^"(.*)"$/, "$1");
  if (actual === undefined || actual === null) return cell === "" || cell === "—" || cell === "-" || /^\(?none\)?$/i.test(cell);
  if (typeof actual === "number") return Number(cell.replace(/[,_\s]/g, "")) === actual;
  return cell === text(actual);
}

/**
 * Every param the functions declare (from the loaded manifest, with its
 * default, and from a scan of the source) has a row in docs/deploy.md's
 * parameter table, and the row's default is the code's.
 */
export function checkParams(root: string, declared: DeclaredParam[]): CheckResult {
  const name = "params";
  const docPath = join(root, "docs", "deploy.md");
  if (!existsSync(docPath)) return result(name, ["docs/deploy.md is missing"], "");
  const documented = documentedParams(readFileSync(docPath, "utf8"));
  const failures: string[] = [];
  const missing = declared.filter((p) => !documented.has(p.name)).map((p) => p.name);
  if (missing.length > 0) failures.push(`not in docs/deploy.md's parameter table: ${missing.join(", ")}`);
  for (const param of declared) {
    const row = documented.get(param.name);
    if (row !== undefined && "default" in param && !sameDefault(row, param.default)) failures.push(`${param.name}: docs/deploy.md says default ${row || "(empty)"}, the code ${JSON.stringify(param.default)}`);
  }
  // firebase-tools asks for a param with no value in functions/.env (the emulator too): a scripted deploy or stack would wait on the prompt.
  const envPath = join(root, "functions", ".env");
  const env = existsSync(envPath) ? readFileSync(envPath, "utf8") : "";
  const unset = declared.filter((p) => !new RegExp(`^${p.name}=`, "m").test(env)).map((p) => p.name);
  if (unset.length > 0) failures.push(`no value in functions/.env (firebase-tools would prompt for it): ${unset.join(", ")}`);
  // The emulator-only allowance of local webhook targets (functions/src/webhooks/settings.ts) has no place in a deployed project's files.
  const functionsDir = join(root, "functions");
  const localAllowance = existsSync(functionsDir) ? readdirSync(functionsDir).filter((file) => /^\.env(\.|$)/.test(file) && /^WEBHOOK_LOCAL_TARGETS=/m.test(readFileSync(join(functionsDir, file), "utf8"))) : [];
  if (localAllowance.length > 0) failures.push(`WEBHOOK_LOCAL_TARGETS is set in ${localAllowance.map((f) => `functions/${f}`).join(", ")}: it is the local stack's allowance, never deployed`);
  // Values the functions read at every send: a malformed one would fail every send of the project.
  for (const file of existsSync(functionsDir) ? readdirSync(functionsDir).filter((f) => /^\.env(\.|$)/.test(f)) : []) {
    const text = readFileSync(join(functionsDir, file), "utf8");
    const quiet = /^QUIET_HOURS=(.*)$/m.exec(text)?.[1]?.trim().replace(/^"(.*)"$/, "$1");
    if (quiet !== undefined && quiet !== "" && !/^\d\d:\d\d-\d\d:\d\d$/.test(quiet)) failures.push(`functions/${file}: QUIET_HOURS must be HH:MM-HH:MM or empty, not "${quiet}"`);
    else if (quiet) for (const part of quiet.split("-")) if (parseHourMinute(part) === undefined) failures.push(`functions/${file}: QUIET_HOURS has ${part}, not a 24-hour time`);
    const zone = /^DEFAULT_TIME_ZONE=(.*)$/m.exec(text)?.[1]?.trim().replace(/^"(.*)"$/, "$1");
    if (zone !== undefined && !isTimeZone(zone)) failures.push(`functions/${file}: DEFAULT_TIME_ZONE "${String(zone)}" is not an IANA time zone`);
  }
  const names = new Set(declared.map((p) => p.name));
  const extra = [...documented.keys()].filter((n) => !names.has(n));
  const warnings = extra.length > 0 ? [`documented but not declared in functions/src: ${extra.join(", ")}`] : [];
  return result(name, failures, `all ${declared.length} params are in docs/deploy.md's table with the code's defaults, and have a value in functions/.env`, warnings);
}

// ---------------------------------------------------------------------------
// (d) The functions load on the production Node.js

export interface Endpoint {
  platform?: string;
  region?: unknown;
  availableMemoryMb?: unknown;
  timeoutSeconds?: unknown;
  concurrency?: unknown;
  serviceAccountEmail?: unknown;
  httpsTrigger?: unknown;
  callableTrigger?: unknown;
  taskQueueTrigger?: { rateLimits?: Record<string, unknown>; retryConfig?: Record<string, unknown> };
  eventTrigger?: unknown;
  scheduleTrigger?: unknown;
}

export interface FunctionsManifest {
  endpoints: Record<string, Endpoint>;
  params?: Array<{ name: string; type?: string; default?: unknown }>;
  requiredAPIs?: Array<{ api: string }>;
}

/**
 * The manifest `firebase deploy` reads from the built functions: firebase-functions'
 * own discovery (FUNCTIONS_MANIFEST_OUTPUT_PATH), run by `node` in functionsDir.
 * Rejects with the loader's own message when the code does not load.
 */
export async function loadManifest(functionsDir: string, node: string): Promise<{ manifest: FunctionsManifest; stderr: string }> {
  const bin = join(functionsDir, "node_modules", "firebase-functions", "lib", "bin", "firebase-functions.js");
  if (!existsSync(bin)) throw new Error(`${bin} is missing (npm --prefix functions ci)`);
  const dir = mkdtempSync(join(tmpdir(), "preflight-"));
  const out = join(dir, "manifest.json");
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, FUNCTIONS_MANIFEST_OUTPUT_PATH: out };
    // Load as production would: no emulator variables leaking in from a shell beside the stack.
    for (const key of ["FUNCTIONS_EMULATOR", "FIRESTORE_EMULATOR_HOST", "FIREBASE_AUTH_EMULATOR_HOST", "CLOUD_TASKS_EMULATOR_HOST", "FCM_STAND_IN_URL", "NODE_OPTIONS"]) delete env[key];
    const child = spawn(node, [bin], { cwd: functionsDir, env, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    child.stdout.resume();
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    if (code !== 0 || !existsSync(out)) {
      // The loader's own line ("Failed to generate manifest …: <why>") or the first error line says it; a stack does not.
      const lines = stderr.trim().split("\n").map((l) => l.trim());
      throw new Error(lines.find((l) => /Failed to generate manifest|^\w*Error\b/.test(l)) ?? lines[0] ?? `exited with ${code}`);
    }
    return { manifest: readJson(out) as FunctionsManifest, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const kindOf = (e: Endpoint) =>
  e.taskQueueTrigger ? "task" : e.callableTrigger ? "callable" : e.httpsTrigger ? "https" : e.scheduleTrigger ? "schedule" : e.eventTrigger ? "event" : "other";
const missingValue = (value: unknown) => value === undefined || value === null || (Array.isArray(value) && value.length === 0);

/**
 * The functions loaded (the manifest is non-empty, all 2nd gen); which lack
 * an explicit region, memory, timeout or (HTTP, callable and task functions)
 * concurrency, and which run as the default service account, as warnings.
 */
export function checkFunctions(loaded: { manifest: FunctionsManifest; stderr: string } | Error, node: { version: string; source: string }): CheckResult {
  const name = "functions";
  if (loaded instanceof Error) return result(name, [`functions/lib does not load on Node.js ${node.version}: ${loaded.message}`], "");
  const endpoints = Object.entries(loaded.manifest.endpoints ?? {});
  if (endpoints.length === 0) return result(name, [`functions/lib loads on Node.js ${node.version} but exports no functions`], "");
  const failures: string[] = [];
  const warnings: string[] = [];
  const v1 = endpoints.filter(([, e]) => e.platform !== "gcfv2").map(([id]) => id);
  if (v1.length > 0) failures.push(`not 2nd gen: ${v1.join(", ")}`);
  const unsized: string[] = [];
  for (const [id, e] of endpoints) {
    const lacks: string[] = [];
    if (missingValue(e.region)) lacks.push("region");
    if (missingValue(e.availableMemoryMb)) lacks.push("memory");
    if (missingValue(e.timeoutSeconds)) lacks.push("timeoutSeconds");
    if (["https", "callable", "task"].includes(kindOf(e)) && missingValue(e.concurrency)) lacks.push("concurrency");
    if (lacks.length > 0) unsized.push(`${id} (${lacks.join(", ")})`);
  }
  if (unsized.length > 0) warnings.push(`${unsized.length} of ${endpoints.length} without explicit sizing: ${unsized.join("; ")}`);
  const defaultAccount = endpoints.filter(([, e]) => missingValue(e.serviceAccountEmail)).map(([id]) => id);
  if (defaultAccount.length > 0) {
    warnings.push(`${defaultAccount.length === endpoints.length ? "every function" : defaultAccount.join(", ")} runs as the default compute service account (no serviceAccount option; docs/deploy.md: RUNTIME_SERVICE_ACCOUNT)`);
  }
  for (const line of loaded.stderr.split("\n").filter((l) => /warning/i.test(l))) warnings.push(`while loading: ${line.trim()}`);
  const names = endpoints.map(([id, e]) => `${id} (${kindOf(e)})`).join(", ");
  return result(name, failures, `${endpoints.length} functions load on Node.js ${node.version} (${node.source}): ${names}`, warnings);
}

// ---------------------------------------------------------------------------
// (e) firebase.json

interface FunctionsConfig {
  source?: unknown;
  codebase?: unknown;
  runtime?: unknown;
  predeploy?: unknown;
  ignore?: unknown;
}

/**
 * firebase.json: each functions codebase's source holds a package.json whose
 * engines.node its `runtime` (if set) agrees with, and it is built before
 * deploy; every Hosting rewrite to a function names an exported HTTP
 * function in that function's region.
 */
export function checkFirebaseJson(root: string, manifest: FunctionsManifest | undefined): CheckResult {
  const name = "firebase.json";
  let config: unknown;
  try {
    config = readJson(join(root, "firebase.json"));
  } catch (err) {
    return result(name, [`firebase.json: ${err instanceof Error ? err.message : String(err)}`], "");
  }
  if (!isObject(config)) return result(name, ["firebase.json is not an object"], "");
  const failures: string[] = [];
  const warnings: string[] = [];
  const functions = (Array.isArray(config.functions) ? config.functions : config.functions === undefined ? [] : [config.functions]) as FunctionsConfig[];
  if (functions.length === 0) failures.push("no `functions` section");
  const codebases = new Set<string>();
  const notes: string[] = [];
  for (const fn of functions) {
    const source = typeof fn.source === "string" ? fn.source : "functions";
    const codebase = typeof fn.codebase === "string" ? fn.codebase : "default";
    if (codebases.has(codebase)) failures.push(`codebase "${codebase}" appears twice`);
    codebases.add(codebase);
    const manifestPath = join(root, source, "package.json");
    if (!existsSync(manifestPath)) {
      failures.push(`functions source "${source}" has no package.json`);
      continue;
    }
    const pkg = readJson(manifestPath) as { engines?: { node?: unknown }; main?: unknown };
    const engines = text(pkg.engines?.node);
    if (fn.runtime !== undefined) {
      if (fn.runtime !== `nodejs${engines}`) failures.push(`functions runtime "${text(fn.runtime)}" disagrees with ${source}/package.json engines.node "${engines}" (firebase.json's runtime wins on deploy)`);
      else notes.push(`runtime ${text(fn.runtime)}`);
    } else notes.push(`runtime from engines.node "${engines}"`);
    const predeploy = Array.isArray(fn.predeploy) ? fn.predeploy.map(String) : typeof fn.predeploy === "string" ? [fn.predeploy] : [];
    if (!predeploy.some((step) => /\brun build\b|\btsc\b/.test(step))) warnings.push(`codebase "${codebase}": no predeploy build step; deploy uploads whatever ${source}/lib holds`);
    const ignore = Array.isArray(fn.ignore) ? fn.ignore.map(String) : [];
    if (!ignore.includes("node_modules")) warnings.push(`codebase "${codebase}": node_modules is not ignored (it would be uploaded)`);
    if (typeof pkg.main === "string" && !existsSync(join(root, source, pkg.main))) failures.push(`${source}/package.json main "${pkg.main}" is not built`);
  }

  let rewrites = 0;
  const hosting = (Array.isArray(config.hosting) ? config.hosting : config.hosting === undefined ? [] : [config.hosting]) as Array<Record<string, unknown>>;
  for (const site of hosting) {
    if (typeof site.public === "string" && !existsSync(join(root, site.public))) warnings.push(`hosting public "${site.public}" does not exist yet (npm run console:build)`);
    for (const rewrite of (Array.isArray(site.rewrites) ? site.rewrites : []) as Array<Record<string, unknown>>) {
      const target = rewrite.function;
      if (target === undefined) continue;
      rewrites += 1;
      const id = typeof target === "string" ? target : isObject(target) ? text(target.functionId) : "";
      const region = isObject(target) && typeof target.region === "string" ? target.region : "us-central1";
      const endpoint = manifest?.endpoints[id];
      if (!manifest) continue;
      if (!endpoint) failures.push(`hosting rewrite ${String(rewrite.source)} → "${id}", which is not an exported function`);
      else if (!endpoint.httpsTrigger) failures.push(`hosting rewrite ${String(rewrite.source)} → "${id}", which is a ${kindOf(endpoint)} function, not onRequest`);
      else if (!Array.isArray(endpoint.region) || !endpoint.region.includes(region)) failures.push(`hosting rewrite ${String(rewrite.source)} → ${id} in ${region}, but ${id} is deployed to ${JSON.stringify(endpoint.region)}`);
    }
  }
  if (!manifest) warnings.push("hosting rewrites not compared with the functions: they did not load");
  const compared = manifest ? `${rewrites} Hosting rewrites name exported onRequest functions in their region` : `${rewrites} Hosting rewrites (not compared with the functions)`;
  return result(name, failures, `${functions.length} functions codebase(s) (${notes.join(", ")}); ${compared}`, warnings);
}

// ---------------------------------------------------------------------------

/** Builds functions/lib as the deploy's predeploy step does. */
function build(root: string): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("npm", ["--prefix", join(root, "functions"), "run", "build"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.once("exit", (code) => resolve({ ok: code === 0, output }));
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  if (existsSync(dir)) walk(dir);
  return newest;
}

export function formatResult(check: CheckResult): string {
  const lines = [`${check.ok ? "✓" : "✗"} ${check.name.padEnd(13)} ${check.detail}`];
  for (const warning of check.warnings) lines.push(`  ! ${warning}`);
  return lines.join("\n");
}

async function main(): Promise<number> {
  const skipBuild = process.argv.includes("--skip-build");
  const root = REPO_ROOT;
  const today = new Date();
  const started = Date.now();
  console.log(`preflight ${day(today)}: offline checks of this checkout before a deploy (nothing is sent anywhere)`);

  // The rules compile (a JVM start) runs beside the build and the functions' load.
  const rules = checkRules(root);
  const node = productionNode();
  let major: number;
  try {
    major = productionMajor();
  } catch (err) {
    console.log(formatResult({ name: "runtime", ok: false, detail: err instanceof Error ? err.message : String(err), warnings: [] }));
    return 1;
  }
  const loading = (async (): Promise<{ manifest: FunctionsManifest; stderr: string } | Error> => {
    const built = skipBuild ? undefined : await build(root);
    if (built && !built.ok) return new Error(`npm --prefix functions run build failed: ${built.output.trim().split("\n").slice(-3).join(" ")}`);
    if ("missing" in node) return new Error(node.missing);
    return loadManifest(join(root, "functions"), node.path).catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  })();

  const table = runtimeTable(root);
  const results: CheckResult[] = [];
  results.push(checkRuntime(root, { today, runtimes: table.runtimes, tableSource: `firebase-tools ${table.version}`, productionMajor: major }));
  results.push(checkIndexes(root));
  results.push(await rules);
  const loaded = await loading;
  const manifest = loaded instanceof Error ? undefined : loaded.manifest;
  const declared = new Map<string, DeclaredParam>(paramsInSource(root).map((p) => [p.name, p]));
  for (const p of manifest?.params ?? []) declared.set(p.name, { name: p.name, type: p.type, default: p.default });
  results.push(checkParams(root, [...declared.values()]));
  const functionsCheck = checkFunctions(loaded, "missing" in node ? { version: `${major} (not installed)`, source: "missing" } : node);
  if (skipBuild && newestMtime(join(root, "functions", "src")) > newestMtime(join(root, "functions", "lib"))) functionsCheck.warnings.push("--skip-build: functions/src is newer than functions/lib");
  results.push(functionsCheck);
  results.push(checkFirebaseJson(root, manifest));

  for (const check of results) console.log(formatResult(check));
  const failed = results.filter((r) => !r.ok).length;
  console.log(`${failed === 0 ? "all checks passed" : `${failed} of ${results.length} checks failed`} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  return failed === 0 ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
      process.exit(1);
    },
  );
}
