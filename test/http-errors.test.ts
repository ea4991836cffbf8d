/** The HTTP foundation: every failure is problem+json with the request id; no internals leak. */

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createRoute, z } from "@hono/zod-openapi";
import { describe, expect, it, vi } from "vitest";
import { createApp } from "../src/app.ts";
import { api, expectProblem } from "./helpers.ts";

// The production app plus two probe routes, to drive the body guard and the 500 path.
const app = createApp();
app.openapi(
  createRoute({
    method: "post",
    path: "/__probe/echo",
    request: {
      body: {
        required: true,
        content: {
          "application/json": { schema: z.object({ name: z.string().min(1), qty: z.number().int().min(1).max(1000) }).strict() },
        },
      },
    },
    responses: { 200: { description: "echo" } },
  }),
  (c) => c.json(c.req.valid("json"), 200),
);
app.get("/__probe/crash", () => {
  throw new Error("db password=hunter2 at /srv/app/secret.ts:12");
});

async function call(path: string, init?: RequestInit) {
  const ctx = createExecutionContext();
  const res = await app.request(path, init, env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

const post = (body: BodyInit | null, headers: Record<string, string> = { "Content-Type": "application/json" }) =>
  call("/__probe/echo", { method: "POST", body, headers });

describe("problem+json errors", () => {
  it("404 for an unknown path", async () => {
    const p = await expectProblem(await api("/api/v1/nope"), 404, "not_found");
    expect(p.instance).toBe("/api/v1/nope");
  });

  it("405 with Allow for a known path and wrong method", async () => {
    const res = await api("/api/v1/products", { method: "DELETE" });
    const p = await expectProblem(res, 405, "method_not_allowed");
    expect(res.headers.get("allow")).toContain("GET");
    expect(p.detail).toContain("GET");
  });

  it("405 also for a POST with a body on a read-only route (before any body parsing)", async () => {
    const res = await api("/api/v1/products", { method: "POST", body: "not json", headers: { "Content-Type": "text/plain" } });
    await expectProblem(res, 405, "method_not_allowed");
  });

  it("accepts valid JSON", async () => {
    const res = await post(JSON.stringify({ name: "x", qty: 2 }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ name: "x", qty: 2 });
  });

  it("400 with per-field errors on validation failure", async () => {
    const p = await expectProblem(await post(JSON.stringify({ name: "", qty: 1.5, admin: true })), 400, "validation_error");
    const fields = p.errors?.map((e) => `${e.in}:${e.field}:${e.code}`).sort();
    expect(fields).toEqual(["body:admin:unknown_field", "body:name:too_small", "body:qty:invalid_type"]);
  });

  it("400 when a required body is missing", async () => {
    const p = await expectProblem(await post(null, {}), 400, "validation_error");
    expect(p.errors?.length).toBeGreaterThan(0);
  });

  it("400 malformed JSON", async () => {
    await expectProblem(await post('{"name": "x",'), 400, "malformed_json");
  });

  it("400 for invalid UTF-8", async () => {
    await expectProblem(await post(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), 400, "malformed_json");
  });

  it("415 for a non-JSON content type", async () => {
    const res = await post("name=x", { "Content-Type": "application/x-www-form-urlencoded" });
    await expectProblem(res, 415, "unsupported_media_type");
    expect(res.headers.get("accept-post")).toBe("application/json");
  });

  it("415 for a body without a content type", async () => {
    await expectProblem(await post('{"name":"x","qty":1}', {}), 415, "unsupported_media_type");
  });

  it("413 when Content-Length exceeds the cap (before reading the body)", async () => {
    const big = JSON.stringify({ name: "x".repeat(70_000), qty: 1 });
    await expectProblem(await post(big), 413, "payload_too_large");
  });

  it("413 when a streamed body without Content-Length exceeds the cap", async () => {
    const chunk = new TextEncoder().encode("x".repeat(16_384));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (sent++ < 8) ctrl.enqueue(chunk);
        else ctrl.close();
      },
    });
    const res = await call("/__probe/echo", {
      method: "POST",
      body: stream,
      headers: { "Content-Type": "application/json" },
      duplex: "half",
    } as RequestInit);
    await expectProblem(res, 413, "payload_too_large");
  });

  it("500 without internals, logged with the request id", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await call("/__probe/crash", { headers: { "X-Request-Id": "crash-test-0001" } });
    const p = await expectProblem(res, 500, "internal_error");
    expect(JSON.stringify(p)).not.toMatch(/hunter2|secret\.ts|password/);
    expect(p.request_id).toBe("crash-test-0001");
    const logged = spy.mock.calls.map((c) => String(c[0])).join("\n");
    expect(logged).toContain("crash-test-0001");
    spy.mockRestore();
  });
});

describe("headers", () => {
  it("sets standard security headers", async () => {
    const res = await api("/health/live");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("strict-transport-security")).toMatch(/max-age=\d+/);
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
  });

  it("CORS allows configured origins only", async () => {
    const ok = await api("/health/live", { headers: { Origin: "https://shop.example.com" } });
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://shop.example.com");
    expect(ok.headers.get("vary")).toContain("Origin");
    const evil = await api("/health/live", { headers: { Origin: "https://evil.example" } });
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers CORS preflight", async () => {
    const res = await api("/api/v1/products", {
      method: "OPTIONS",
      headers: { Origin: "https://admin.example.com", "Access-Control-Request-Method": "GET" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://admin.example.com");
    expect(res.headers.get("access-control-allow-headers")).toContain("Idempotency-Key");
  });
});

describe("JSON access log", () => {
  it("writes one line per request with the required fields and nothing secret", async () => {
    const lines: string[] = [];
    const spy = vi.spyOn(console, "log").mockImplementation((l: unknown) => void lines.push(String(l)));
    const quiet = { ...env, LOG_LEVEL: "info" };
    const ctx = createExecutionContext();
    await app.request(
      "/api/v1/products?limit=2",
      { headers: { "X-Request-Id": "log-test-00001", Authorization: "Bearer s3cr3t-token" } },
      quiet,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    spy.mockRestore();
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.request_id === "log-test-00001");
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      level: "info",
      request_id: "log-test-00001",
      method: "GET",
      route: "/api/v1/products",
      status: 200,
      component: "http",
    });
    expect(typeof entries[0]?.duration_ms).toBe("number");
    expect(typeof entries[0]?.ts).toBe("string");
    const all = lines.join("\n");
    expect(all).not.toContain("s3cr3t-token");
    expect(all).not.toContain(env.CURSOR_SECRET);
    expect(all).not.toContain("postgres://");
  });
});
