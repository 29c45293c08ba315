import { Ajv2020 } from "ajv/dist/2020.js";
import type { ValidateFunction } from "ajv";

/**
 * Checks answers against the partner API's OpenAPI document with a JSON
 * Schema 2020-12 validator (ajv), the way an integrator's generated client
 * would read them: the schema of one route, method and status.
 */
export interface OpenApiChecker {
  /** The errors of `body` against the document's answer for this route and status; empty when it fits. */
  check(method: string, path: string, status: number, body: unknown): string[];
  /** The request body schema of a route, compiled. */
  requestValidator(method: string, path: string): ValidateFunction;
}

type Json = Record<string, unknown>;

const pointer = (...parts: string[]) => parts.map((part) => `/${part.replaceAll("~", "~0").replaceAll("/", "~1")}`).join("");

export function openApiChecker(document: Json): OpenApiChecker {
  // strict: false, since the document's own keywords (openapi, paths…) are not JSON Schema; formats are
  // left to the patterns zod writes beside them (date-times), so no format plug-in is needed.
  const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema(document, "openapi");
  const at = (path: string): unknown => path.split("/").slice(1).reduce<unknown>((node, part) => (node as Json | undefined)?.[part.replaceAll("~1", "/").replaceAll("~0", "~")], document);
  const compiled = (schemaPointer: string): ValidateFunction => {
    const validate = ajv.getSchema(`openapi#${schemaPointer}`);
    if (!validate) throw new Error(`no schema at ${schemaPointer}`);
    return validate;
  };
  return {
    check(method, path, status, body) {
      let response = pointer("paths", path, method.toLowerCase(), "responses", String(status));
      const found = at(response) as Json | undefined;
      if (!found) return [`the document has no ${status} answer for ${method} ${path}`];
      if (typeof found.$ref === "string") response = found.$ref.slice(1);
      const validate = compiled(`${response}${pointer("content", "application/json", "schema")}`);
      return validate(body) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || "/"} ${error.message ?? ""}`);
    },
    requestValidator(method, path) {
      return compiled(pointer("paths", path, method.toLowerCase(), "requestBody", "content", "application/json", "schema"));
    },
  };
}
