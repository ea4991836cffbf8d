import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api, apiSettled, expectProblem } from "./helpers.ts";

describe("health", () => {
  it("live answers without I/O", async () => {
    const res = await api("/health/live");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("ready pings the database", async () => {
    const res = await api("/health/ready");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; checks: { database: string } };
    expect(body.checks.database).toMatch(/^ok/);
  });

  it("ready is 503 with the reason when the database is unreachable", async () => {
    const down = { connectionString: "postgres://postgres:postgres@127.0.0.1:9/nowhere" } as Hyperdrive;
    const broken = { ...env, HYPERDRIVE: down, HYPERDRIVE_FRESH: down, HEALTH_DB_TIMEOUT_MS: "800" };
    const started = Date.now();
    const res = await apiSettled("/health/ready", undefined, broken);
    const body = await expectProblem(res, 503, "service_unavailable");
    expect(body.detail).toMatch(/database is unreachable/);
    expect(body.checks).toEqual({ database: "down" });
    expect(res.headers.get("retry-after")).toBe("5");
    expect(JSON.stringify(body)).not.toContain("127.0.0.1");
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("request id", () => {
  it("echoes a well-formed incoming X-Request-Id", async () => {
    const res = await api("/health/live", { headers: { "X-Request-Id": "client-trace-12345" } });
    expect(res.headers.get("x-request-id")).toBe("client-trace-12345");
  });

  it("replaces a malformed one with a generated uuid", async () => {
    const res = await api("/health/live", { headers: { "X-Request-Id": "bad id\u0007<script>" } });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("generates one when absent, different per request", async () => {
    const a = (await api("/health/live")).headers.get("x-request-id");
    const b = (await api("/health/live")).headers.get("x-request-id");
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
  });
});
