import { describe, expect, it } from "vitest";
import { api } from "./helpers.ts";

describe("OpenAPI", () => {
  it("serves an OpenAPI 3.1 document generated from the validating schemas", async () => {
    const res = await api("/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { parameters?: { name: string; schema: Record<string, unknown> }[] }>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    for (const p of ["/api/v1/products", "/api/v1/products/{idOrSku}", "/api/v1/categories", "/api/v1/search", "/health/ready"])
      expect(doc.paths[p]).toBeDefined();
    const limit = doc.paths["/api/v1/products"]?.get?.parameters?.find((x) => x.name === "limit");
    expect(limit?.schema).toMatchObject({ type: "integer", minimum: 1, maximum: 100 });
  });

  it("documents the bearer security scheme on protected routes", async () => {
    const doc = (await (await api("/openapi.json")).json()) as {
      components: { securitySchemes: Record<string, { type: string; scheme: string }> };
      paths: Record<string, Record<string, { security?: unknown[] }>>;
    };
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer", bearerFormat: "JWT" });
    expect(doc.paths["/api/v1/admin/products"]?.post?.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths["/api/v1/users/me"]?.get?.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths["/api/v1/products"]?.get?.security).toBeUndefined();
  });

  it("serves the API reference page from its own assets (no CDN), under a strict CSP", async () => {
    const res = await api("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self';");
    const html = await res.text();
    expect(html).toMatch(/<script type="module" src="\/assets\/docs-[A-Z0-9]+\.js"><\/script>/);
    expect(html).not.toMatch(/https?:\/\//);
  });
});
