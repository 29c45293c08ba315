/**
 * The preflight's checks (tools/preflight.ts): each fails on a deliberately
 * broken copy of the repository's deploy files, and passes on the repository
 * itself. The functions are loaded as the preflight loads them: the built
 * functions/lib (built here when missing) on the production Node.js.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  REPO_ROOT,
  checkFirebaseJson,
  checkFunctions,
  checkIndexes,
  checkParams,
  checkRules,
  checkRuntime,
  findEmulatorJar,
  loadManifest,
  paramsInSource,
  runtimeTable,
  startRulesCompiler,
  type DeclaredParam,
  type FunctionsManifest,
} from "../../tools/preflight.ts";
import { productionMajor, productionNode } from "../../tools/runtime.ts";

const TODAY = new Date("2026-12-07T12:00:00Z");
const { runtimes } = runtimeTable();

function write(root: string, path: string, text: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
}

const readJson = <T>(path: string) => JSON.parse(readFileSync(path, "utf8")) as T;

/** A copy of the deploy files with one thing wrong in each. */
function brokenFixture(): string {
  const root = mkdtempSync(join(tmpdir(), "preflight-fixture-"));
  cpSync(join(REPO_ROOT, "functions", "src"), join(root, "functions", "src"), { recursive: true });
  cpSync(join(REPO_ROOT, "docs", "deploy.md"), join(root, "docs", "deploy.md"));
  cpSync(join(REPO_ROOT, "functions", "tsconfig.json"), join(root, "functions", "tsconfig.json"));

  const pkg = readJson<{ engines: { node: string }; devDependencies: Record<string, string> }>(join(REPO_ROOT, "functions", "package.json"));
  pkg.engines.node = "20";
  pkg.devDependencies["@types/node"] = "^20.19.43";
  write(root, "functions/package.json", JSON.stringify(pkg));

  // A param nobody documented.
  write(root, "functions/src/shared/extra.ts", 'import { defineInt } from "firebase-functions/params";\nexport const EXTRA = defineInt("UNDOCUMENTED_PARAM", { default: 1 });\n');

  const indexes = readJson<{ indexes: Array<Record<string, unknown>>; fieldOverrides: Array<Record<string, unknown>> }>(join(REPO_ROOT, "firestore.indexes.json"));
  indexes.indexes.push({ collectionGroup: "devices", queryScope: "COLLECTION", fields: [{ fieldPath: "retired", order: "ASCENDING" }, { fieldPath: "noSuchField", order: "ASCENDING" }] });
  // The sweep's collection-group query orders on leaseExpiresAt: exempting it would break that query.
  indexes.fieldOverrides.push({ collectionGroup: "recipients", fieldPath: "leaseExpiresAt", indexes: [] });
  write(root, "firestore.indexes.json", JSON.stringify(indexes));

  write(root, "firestore.rules", "rules_version = '2';\nservice cloud.firestore {\n  match /databases/{db}/documents {\n    match /x/{y} { allow read: if ; }\n  }\n}\n");

  const firebase = readJson<{ functions: Array<Record<string, unknown>>; hosting: { rewrites: Array<Record<string, unknown>> } }>(join(REPO_ROOT, "firebase.json"));
  firebase.hosting.rewrites.unshift({ source: "/nowhere/**", function: { functionId: "noSuchFunction", region: "us-central1" } });
  firebase.hosting.rewrites.unshift({ source: "/elsewhere/**", function: { functionId: "airnotifier", region: "europe-west1" } });
  write(root, "firebase.json", JSON.stringify(firebase));
  return root;
}

describe("preflight", () => {
  let fixture = "";
  let loaded: { manifest: FunctionsManifest; stderr: string };
  let node: { path: string; version: string; source: string };

  before(async () => {
    fixture = brokenFixture();
    const found = productionNode();
    assert.ok(!("missing" in found), "missing" in found ? found.missing : "");
    node = found;
    if (!existsSync(join(REPO_ROOT, "functions", "lib", "index.js"))) {
      const built = spawnSync("npm", ["--prefix", join(REPO_ROOT, "functions"), "run", "build"], { encoding: "utf8" });
      assert.equal(built.status, 0, built.stdout + built.stderr);
    }
    loaded = await loadManifest(join(REPO_ROOT, "functions"), node.path);
  });

  after(() => rmSync(fixture, { recursive: true, force: true }));

  describe("runtime", () => {
    it("passes on the repository: a supported Node.js, the production major, with matching target and types", () => {
      const check = checkRuntime(REPO_ROOT, { today: TODAY, runtimes, productionMajor: productionMajor() });
      assert.equal(check.ok, true, check.detail);
    });

    it("fails on engines.node 20 after its decommissioning, and on types for another major", () => {
      const check = checkRuntime(fixture, { today: TODAY, runtimes, productionMajor: 24 });
      assert.equal(check.ok, false);
      assert.match(check.detail, /decommissioned on 2026-10-30/);
      assert.match(check.detail, /not the production major 24/);
      assert.match(check.detail, /target ES2024 is newer than Node\.js 20/);
    });

    it("fails on a deprecated runtime, and on a major Cloud Functions does not offer", () => {
      const pkg = readJson<{ engines: { node: string } }>(join(fixture, "functions", "package.json"));
      pkg.engines.node = "22";
      write(fixture, "functions/package.json", JSON.stringify(pkg));
      assert.match(checkRuntime(fixture, { today: new Date("2027-05-01"), runtimes, productionMajor: 22 }).detail, /deprecated since 2027-04-30/);
      pkg.engines.node = "23";
      write(fixture, "functions/package.json", JSON.stringify(pkg));
      assert.match(checkRuntime(fixture, { today: TODAY, runtimes, productionMajor: 23 }).detail, /nodejs23 is not a Cloud Functions runtime/);
      pkg.engines.node = ">=20";
      write(fixture, "functions/package.json", JSON.stringify(pkg));
      assert.match(checkRuntime(fixture, { today: TODAY, runtimes, productionMajor: 24 }).detail, /not one major version/);
      pkg.engines.node = "20";
      write(fixture, "functions/package.json", JSON.stringify(pkg));
    });
  });

  describe("indexes", () => {
    it("passes on the repository", () => {
      const check = checkIndexes(REPO_ROOT);
      assert.equal(check.ok, true, check.detail);
      assert.match(check.detail, /2 TTL/, "the TTL policies of apiGuards and metrics");
    });

    it("fails on a field no code has, and on an exemption of a field a query orders on", () => {
      const check = checkIndexes(fixture);
      assert.equal(check.ok, false);
      assert.match(check.detail, /field "noSuchField" appears nowhere in functions\/src/);
      assert.match(check.detail, /recipients\.leaseExpiresAt is exempted from indexing but a query filters or orders on "leaseExpiresAt" \(functions\/src\/sweep\/recipients\.ts:\d+/);
    });

    it("fails on JSON of the wrong shape, as firebase deploy would", () => {
      const root = mkdtempSync(join(tmpdir(), "preflight-indexes-"));
      try {
        cpSync(join(REPO_ROOT, "functions", "src"), join(root, "functions", "src"), { recursive: true });
        write(root, "firestore.indexes.json", "{ \"indexes\": [");
        assert.match(checkIndexes(root).detail, /not valid JSON/);
        write(root, "firestore.indexes.json", JSON.stringify({ indexes: [], fieldOverrides: [{ collectionGroup: "apiGuards", fieldPath: "expiresAt", ttl: "yes", indexes: [] }] }));
        assert.match(checkIndexes(root).detail, /ttl/);
        write(root, "firestore.indexes.json", JSON.stringify({ indexes: [{ collectionGroup: "devices", queryScope: "SOMEWHERE", fields: [] }] }));
        assert.match(checkIndexes(root).detail, /queryScope/);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  });

  describe("rules", () => {
    it("compiles the repository's rules and refuses a broken file", async () => {
      const jar = findEmulatorJar();
      assert.ok(jar, "the Firestore emulator jar (gcloud components install cloud-firestore-emulator)");
      const compiler = await startRulesCompiler(jar);
      const [good, bad] = await Promise.all([checkRules(REPO_ROOT, { compiler }), checkRules(fixture, { compiler })]).finally(() => compiler.stop());
      assert.equal(good.ok, true, good.detail);
      assert.match(good.detail, /compiles with no issues/);
      assert.equal(bad.ok, false);
      assert.match(bad.detail, /does not compile: .*L4/);
    });
  });

  describe("params", () => {
    const declared = (root: string, manifest?: FunctionsManifest): DeclaredParam[] => {
      const all = new Map(paramsInSource(root).map((p) => [p.name, p]));
      for (const p of manifest?.params ?? []) all.set(p.name, { name: p.name, type: p.type, default: p.default });
      return [...all.values()];
    };

    it("passes on the repository: every param of the loaded functions has a row with its default", () => {
      const params = declared(REPO_ROOT, loaded.manifest);
      assert.ok(params.some((p) => p.name === "DISPATCH_MAX_PER_SECOND" && p.default === 15));
      const check = checkParams(REPO_ROOT, params);
      assert.equal(check.ok, true, check.detail);
    });

    it("fails on an undocumented param, and on a default the guide gets wrong", () => {
      const params = declared(fixture).map((p) => (p.name === "DISPATCH_MAX_PER_SECOND" ? { ...p, default: 20 } : p));
      const check = checkParams(fixture, params);
      assert.equal(check.ok, false);
      assert.match(check.detail, /not in docs\/deploy\.md's parameter table: UNDOCUMENTED_PARAM/);
      assert.match(check.detail, /DISPATCH_MAX_PER_SECOND: docs\/deploy\.md says default 15, the code 20/);
    });

    it("refuses the local stack's webhook allowance in any functions/.env file", () => {
      const root = mkdtempSync(join(tmpdir(), "preflight-webhooks-"));
      try {
        write(root, "docs/deploy.md", "| `ONLY_PARAM` | 1 | x |\n");
        write(root, "functions/.env", "ONLY_PARAM=1\n");
        const params: DeclaredParam[] = [{ name: "ONLY_PARAM", default: 1 }];
        assert.equal(checkParams(root, params).ok, true, checkParams(root, params).detail);
        write(root, "functions/.env.my-project", "WEBHOOK_LOCAL_TARGETS=10.0.0.5:443\n");
        const check = checkParams(root, params);
        assert.equal(check.ok, false);
        assert.match(check.detail, /WEBHOOK_LOCAL_TARGETS is set in functions\/\.env\.my-project/);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });

    it("refuses quiet hours or a default time zone every send would fail on", () => {
      const root = mkdtempSync(join(tmpdir(), "preflight-hours-"));
      try {
        write(root, "docs/deploy.md", "| `ONLY_PARAM` | 1 | x |\n");
        const params: DeclaredParam[] = [{ name: "ONLY_PARAM", default: 1 }];
        write(root, "functions/.env", "ONLY_PARAM=1\nQUIET_HOURS=21:00-07:00\nDEFAULT_TIME_ZONE=America/Chicago\n");
        write(root, "functions/.env.local-stack", "QUIET_HOURS=\n");
        assert.equal(checkParams(root, params).ok, true, checkParams(root, params).detail);
        write(root, "functions/.env.my-project", "QUIET_HOURS=9pm-7am\nDEFAULT_TIME_ZONE=Central\n");
        const check = checkParams(root, params);
        assert.equal(check.ok, false);
        assert.match(check.detail, /QUIET_HOURS must be HH:MM-HH:MM or empty, not "9pm-7am"/);
        assert.match(check.detail, /DEFAULT_TIME_ZONE "Central" is not an IANA time zone/);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });
  });

  describe("functions", () => {
    it("loads the built functions on the production Node.js and lists them", () => {
      const check = checkFunctions(loaded, node);
      assert.equal(check.ok, true, check.detail);
      assert.match(check.detail, new RegExp(`load on Node\\.js ${productionMajor()}\\.`));
      for (const name of ["dispatchBatch (task)", "expandAudience (task)", "recordPage (task)", "airnotifier (https)", "sweep (schedule)"]) assert.ok(check.detail.includes(name), name);
    });

    it("reports functions without sizing as warnings, and a load failure as a failure", async () => {
      const unsized: FunctionsManifest = { endpoints: { lonely: { platform: "gcfv2", region: ["us-central1"], callableTrigger: {}, availableMemoryMb: null, timeoutSeconds: 60, concurrency: null } } };
      const check = checkFunctions({ manifest: unsized, stderr: "" }, node);
      assert.equal(check.ok, true);
      assert.ok(check.warnings.some((w) => w.includes("lonely (memory, concurrency)")), check.warnings.join("\n"));

      const dir = mkdtempSync(join(tmpdir(), "preflight-functions-"));
      try {
        symlinkSync(join(REPO_ROOT, "functions", "node_modules"), join(dir, "node_modules"), "dir");
        write(dir, "package.json", JSON.stringify({ main: "index.js" }));
        write(dir, "index.js", 'throw new Error("boom at load");\n');
        const failed = await loadManifest(dir, node.path).catch((err: unknown) => err as Error);
        assert.ok(failed instanceof Error);
        const result = checkFunctions(failed, node);
        assert.equal(result.ok, false);
        assert.match(result.detail, /does not load on Node\.js .*boom at load/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("firebase.json", () => {
    it("passes on the repository: rewrites name exported onRequest functions in their region", () => {
      const check = checkFirebaseJson(REPO_ROOT, loaded.manifest);
      assert.equal(check.ok, true, check.detail);
    });

    it("fails on a rewrite to a missing function, one in another region, and a runtime engines.node disagrees with", () => {
      const check = checkFirebaseJson(fixture, loaded.manifest);
      assert.equal(check.ok, false);
      assert.match(check.detail, /"noSuchFunction", which is not an exported function/);
      assert.match(check.detail, /airnotifier in europe-west1/);
      assert.match(check.detail, /runtime "nodejs24" disagrees with functions\/package\.json engines\.node "20"/);
    });
  });
});
