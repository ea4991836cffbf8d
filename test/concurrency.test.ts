import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { api } from "./helpers.ts";

describe(`database under concurrency (${env.TEST_DATABASE_KIND})`, () => {
  it("50 concurrent requests to DB routes: 0 errors", async () => {
    // Distinct queries so the edge cache cannot answer: every request reaches Postgres.
    const paths = Array.from({ length: 50 }, (_, i) =>
      i % 2
        ? `/api/v1/products?limit=${(i % 100) + 1}&min_price=${i}`
        : `/api/v1/search?q=${["lapt", "kettle", "pro", "sneak", "tea"][i % 5]}&limit=${i + 1}`,
    );
    const results = await Promise.all(paths.map(async (p) => ({ p, res: await api(p) })));
    const failures = results.filter((r) => r.res.status !== 200).map((r) => `${r.p} → ${r.res.status}`);
    expect(failures).toEqual([]);
    for (const r of results) expect(((await r.res.json()) as { data: unknown[] }).data.length).toBeGreaterThan(0);
  });
});
