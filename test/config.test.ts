import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { apiSettled, expectProblem } from "./helpers.ts";

describe("configuration", () => {
  it("production refuses to serve without its secrets, and says which one in the log only", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    const prod = { ...env, ENVIRONMENT: "production", CURSOR_SECRET: "" };
    const p = await expectProblem(await apiSettled("/api/v1/products", undefined, prod), 503, "service_unavailable");
    expect(JSON.stringify(p)).not.toContain("CURSOR_SECRET");
    const logged = spy.mock.calls.map((c) => String(c[0])).join("\n");
    expect(logged).toContain("CURSOR_SECRET");
    spy.mockRestore();
  });

  it("rejects a weak secret and an invalid var", async () => {
    const spy = vi.spyOn(console, "error").mockImplementation(() => {});
    const weak = { ...env, CURSOR_SECRET: "short" };
    await expectProblem(await apiSettled("/health/live", undefined, weak), 503);
    const bad = { ...env, CATALOG_CACHE_TTL_SEC: "soon" };
    await expectProblem(await apiSettled("/health/live", undefined, bad), 503);
    const logged = spy.mock.calls.map((c) => String(c[0])).join("\n");
    expect(logged).toContain("CATALOG_CACHE_TTL_SEC");
    expect(logged).not.toContain('short"');
    spy.mockRestore();
  });
});
