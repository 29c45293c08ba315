import { defineConfig } from "vite";

// The console imports the functions' own schemas (functions/src/contract), so
// zod comes from functions/node_modules: one copy, the one the server runs.
export default defineConfig({
  root: import.meta.dirname,
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", chunkSizeWarningLimit: 1000 },
  logLevel: "warn",
});
