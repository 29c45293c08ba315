/**
 * The one region everything runs in: the functions (index.ts), the Cloud
 * Tasks queues the ops code administers, the tools and tests that call the
 * functions. firebase.json's Hosting rewrites name it too (JSON cannot
 * import; `npm run preflight` checks they agree), and so does the console's
 * build (console/src/firebase.ts).
 */
export const REGION = "us-central1";
