/**
 * Writes docs/openapi.json, the OpenAPI 3.1 description of the partner API
 * `/v1`, from the code that serves it (functions/src/api/openapi.ts):
 *
 *   npm run openapi
 *
 * The unit tests fail while the committed file and the code disagree; the
 * deployed API serves the same document at GET /v1/openapi.json.
 */
import { writeFileSync } from "node:fs";
import { openApiJson, OPENAPI_FILE } from "./lib/openapi.ts";

writeFileSync(OPENAPI_FILE, openApiJson());
console.log(`wrote ${OPENAPI_FILE.pathname}`);
