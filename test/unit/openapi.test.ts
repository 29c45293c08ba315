/**
 * The partner API's OpenAPI document (functions/src/api/openapi.ts): the
 * committed docs/openapi.json is what the code generates, and the document's
 * schemas say what the API's own zod schemas say.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { API_ERRORS, type ApiErrorCode } from "../../functions/src/api/errors.ts";
import { openApiDocument } from "../../functions/src/api/openapi.ts";
import { sendMessageInput } from "../../functions/src/sending/schema.ts";
import { OPENAPI_FILE, openApiJson } from "../../tools/lib/openapi.ts";
import { openApiChecker } from "../support/openapi.ts";

type Json = Record<string, unknown>;
const document = openApiDocument();
const paths = document.paths as Record<string, Record<string, Json>>;

describe("OpenAPI document of /v1", () => {
  it("is committed as docs/openapi.json exactly as the code generates it", () => {
    assert.equal(readFileSync(OPENAPI_FILE, "utf8"), openApiJson(), "docs/openapi.json is stale: run `npm run openapi` and commit it");
  });

  it("compiles as JSON Schema 2020-12 and every $ref in it resolves", () => {
    const checker = openApiChecker(document);
    const refs = JSON.stringify(document).match(/"\$ref":"[^"]+"/g) ?? [];
    assert.ok(refs.length > 10);
    for (const [path, methods] of Object.entries(paths)) {
      for (const [method, operation] of Object.entries(methods)) {
        for (const status of Object.keys(operation.responses as Json)) {
          // Compiling resolves every reference the answer's schema makes.
          assert.ok(Array.isArray(checker.check(method, path, Number(status), {})), `${method} ${path} ${status}`);
        }
        if (operation.requestBody) assert.equal(typeof checker.requestValidator(method, path), "function");
      }
    }
  });

  it("lists every error code the API answers with, under its status", () => {
    const listed = new Map<string, Set<string>>();
    const responses = (document.components as { responses: Record<string, Json> }).responses;
    for (const methods of Object.values(paths)) {
      for (const operation of Object.values(methods)) {
        for (const [status, response] of Object.entries(operation.responses as Record<string, Json>)) {
          const ref = response.$ref;
          if (typeof ref !== "string") continue;
          const shared = responses[ref.split("/").pop()!]!;
          const schema = ((shared.content as Json)["application/json"] as { schema: { properties: { error: { properties: { code: { enum: string[] } } } } } }).schema;
          for (const code of schema.properties.error.properties.code.enum) (listed.get(status) ?? listed.set(status, new Set()).get(status)!).add(code);
        }
      }
    }
    // resource-exhausted is only a mapping of a service's HttpsError, which no /v1 route throws today.
    const answered = (Object.entries(API_ERRORS) as Array<[ApiErrorCode, number]>).filter(([code]) => code !== "resource-exhausted");
    for (const [code, status] of answered) assert.ok(listed.get(String(status))?.has(code), `${code} (${status}) is in no route's answers`);
    for (const path of Object.keys(paths).filter((p) => p !== "/v1/openapi.json")) {
      for (const operation of Object.values(paths[path]!)) {
        for (const status of ["400", "401", "403", "413", "429", "500"]) assert.ok((operation.responses as Json)[status], `${path} lacks ${status}`);
      }
    }
  });

  it("describes the send body as the API validates it", () => {
    const validate = openApiChecker(document).requestValidator("post", "/v1/messages");
    // Within LIMITS.sendAheadDays, a refinement JSON Schema cannot say.
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString();
    const bodies: unknown[] = [
      { title: "t", body: "b", audience: { users: ["u1"] } },
      { title: "t", body: "b", audience: { where: { grade: 7 } }, priority: "high", sendAt: tomorrow },
      { title: "t", body: "b", audience: { all: true }, badge: "increment" },
      { title: "", body: "b", audience: { users: ["u1"] } },
      { title: "t", body: "b", audience: { users: [] } },
      { title: "t", body: "b", audience: { all: false } },
      { title: "t", body: "b", audience: { users: ["u"], devices: ["d"] } },
      { title: "t", body: "b", audience: { users: ["u1"] }, extra: 1 },
      { title: "t", body: "b", audience: { users: ["u1"] }, priority: "urgent" },
      { title: "t", body: "b" },
    ];
    for (const body of bodies) assert.equal(validate(body), sendMessageInput.safeParse(body).success, JSON.stringify(body));
  });
});
