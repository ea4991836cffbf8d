import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiSettled } from "./helpers.ts";

afterEach(() => vi.restoreAllMocks());

/** The JSON access-log lines written while `run` runs. */
async function accessLines(run: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const lines: string[] = [];
  const capture = (line: unknown) => void lines.push(String(line));
  vi.spyOn(console, "log").mockImplementation(capture);
  vi.spyOn(console, "warn").mockImplementation(capture);
  vi.spyOn(console, "error").mockImplementation(capture);
  await run();
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === "request");
}

describe("access log", () => {
  it("writes one JSON line per request with the request id, route, status and duration", async () => {
    const bindings = { ...env, LOG_LEVEL: "info" } as Env;
    const [line] = await accessLines(() => apiSettled("/health/live", { headers: { "X-Request-Id": "req-log-test-1" } }, bindings));
    expect(line).toMatchObject({ level: "info", request_id: "req-log-test-1", route: "/health/live", status: 200 });
    expect(typeof line?.duration_ms).toBe("number");
  });

  it("ACCESS_LOG_SAMPLE_RATE samples successes only: refusals and errors are always logged", async () => {
    const bindings = { ...env, LOG_LEVEL: "info", ACCESS_LOG_SAMPLE_RATE: "0" } as Env;
    const lines = await accessLines(async () => {
      for (let i = 0; i < 5; i++) await apiSettled("/health/live", undefined, bindings);
      await apiSettled("/nothing-here", undefined, bindings);
    });
    expect(lines.map((l) => l.status)).toEqual([404]);
  });
});
