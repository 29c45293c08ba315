import js from "@eslint/js";
import tseslint from "typescript-eslint";
import { importX } from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";

/**
 * The rooms of functions/src, bottom to top. A room imports only from rooms in
 * lower layers (and from itself): shared code at the bottom, the deployed
 * functions at the top. Rooms of one layer do not import each other.
 */
const LAYERS = [
  ["shared"],
  ["devices", "keys", "messages"],
  ["languages"],
  ["fcm", "guards"],
  ["ops"],
  ["webhooks"],
  ["delivery"],
  ["sweep"],
  ["sending"],
  ["receipts"],
  ["api", "moodle", "contract"],
  ["functions"],
];
const layerZones = LAYERS.flatMap((layer, index) =>
  layer.map((room) => ({
    target: `./functions/src/${room}`,
    from: LAYERS.slice(index).flat().filter((other) => other !== room).map((other) => `./functions/src/${other}`),
    message: `${room} may import only from the rooms below it (LAYERS in eslint.config.js)`,
  })),
).filter((zone) => zone.from.length > 0);

export default tseslint.config(
  { ignores: ["**/node_modules/**", "functions/lib/**", ".cache/**", "console/dist/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    files: ["**/*.ts"],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      // node:test's describe/it return promises the runner itself awaits.
      "@typescript-eslint/no-floating-promises": ["error", {
        allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["describe", "it", "test", "suite"] }],
      }],
    },
  },
  {
    // No import cycles, and the rooms of functions/src layered (LAYERS): each can be read on its own.
    files: ["**/*.ts"],
    plugins: { "import-x": importX },
    settings: {
      ...importX.flatConfigs.typescript.settings,
      "import-x/resolver": undefined,
      "import-x/resolver-next": [
        createTypeScriptImportResolver({ project: ["tsconfig.json", "functions/tsconfig.json", "console/tsconfig.json"], noWarnOnMultipleProjects: true }),
      ],
    },
    rules: {
      "import-x/no-cycle": "error",
      "import-x/no-restricted-paths": ["error", { basePath: import.meta.dirname, zones: layerZones }],
    },
  },
  {
    // Every transaction in the functions is started again on contention (shared/transaction.ts), never answered as a failure.
    files: ["functions/src/**/*.ts"],
    ignores: ["functions/src/shared/transaction.ts"],
    rules: {
      "no-restricted-syntax": ["error", {
        selector: "CallExpression[callee.property.name='runTransaction'][callee.object.type='CallExpression']",
        message: "Use runTransaction from shared/transaction.ts: it starts a contended transaction again instead of failing the request.",
      }],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ["tools/**/*.mjs", "eslint.config.js"],
    languageOptions: { globals: { console: "readonly", process: "readonly" } },
  },
);
