import { openApiDocument } from "../../functions/src/api/openapi.ts";

/** Where the committed copy of the partner API's OpenAPI document lives. */
export const OPENAPI_FILE = new URL("../../docs/openapi.json", import.meta.url);

/** The document as `npm run openapi` writes it: two-space JSON and a final newline. */
export function openApiJson(): string {
  return `${JSON.stringify(openApiDocument(), null, 2)}\n`;
}
