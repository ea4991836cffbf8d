/**
 * Issue 14, the report API as an attacker would try it: who may call it, every malformed query
 * refused as problem+json naming the field, defaults, empty days, cache headers, the live summary,
 * and CSV cells that a spreadsheet would run as formulas.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { csvCell, toCsv } from "../src/lib/csv.ts";
import { prefersCsv } from "../src/routes/admin-reports.routes.ts";
import { api, apiSettled, createUser, expectProblem, sql } from "./helpers.ts";
import { DAY_MS, freshCurrencies, type GenOrder, getJson, type History, insertHistory, parseCsv, utcDay } from "./reports.helpers.ts";

const admin = await createUser("ADMIN");
const user = await createUser("USER");
const READS = ["/api/v1/admin/reports/sales", "/api/v1/admin/reports/top-products", "/api/v1/admin/reports/summary"];
const REFRESH = "/api/v1/admin/reports/refresh";

describe("who may read and refresh", () => {
  it.each(READS)("GET %s: 401 without a token, 403 for a USER", async (path) => {
    await expectProblem(await api(path), 401, "unauthorized");
    await expectProblem(await api(path, { headers: user.auth }), 403, "forbidden");
    await expectProblem(await api(`${path}?format=csv`, { headers: { ...user.auth, Accept: "text/csv" } }), 403, "forbidden");
  });

  it("POST refresh: 401 without a token, 403 for a USER", async () => {
    await expectProblem(await api(REFRESH, { method: "POST" }), 401, "unauthorized");
    await expectProblem(await api(REFRESH, { method: "POST", headers: user.auth }), 403, "forbidden");
  });
});

describe("configuration", () => {
  it("the caching binding is required: without HYPERDRIVE_CACHED every request is a 503 naming it", async () => {
    const { loadConfig, ConfigError } = await import("../src/config.ts");
    const missing = { ...env, HYPERDRIVE_CACHED: undefined } as unknown as Env;
    expect(() => loadConfig(missing)).toThrow(ConfigError);
    const res = await apiSettled("/api/v1/admin/reports/summary", { headers: admin.auth }, missing);
    const p = await expectProblem(res, 503, "service_unavailable");
    expect(p.invalid_settings).toEqual(["HYPERDRIVE_CACHED"]);
  });
});

describe("malformed queries are 400 problem+json naming the field", () => {
  const cases: [string, string, string, string?][] = [
    ["sales", "from=2026-02-30", "from"],
    ["sales", "from=2026-13-01", "from"],
    ["sales", "from=2026-1-5", "from"],
    ["sales", "from=yesterday", "from"],
    ["sales", "from=1969-12-31", "from"],
    ["sales", "to=2026-11-31", "to"],
    ["sales", "to=2026-12-01T00:00:00Z", "to"],
    ["sales", "from=2026-05-02&to=2026-05-01", "to", "invalid_range"],
    ["sales", "from=2025-01-01&to=2026-01-02", "from", "range_too_long"],
    ["sales", "from=1970-01-01", "from", "range_too_long"],
    ["sales", "currency=usd", "currency"],
    ["sales", "currency=US", "currency"],
    ["sales", "currency=USDX", "currency"],
    ["sales", "currency=U%24D", "currency"],
    ["sales", "currency=USD&currency=EUR", "currency"],
    ["sales", "format=xml", "format"],
    ["sales", "foo=1", "foo", "unknown_field"],
    ["sales", "from=%00", "from"],
    ["top-products", "limit=0", "limit"],
    ["top-products", "limit=101", "limit"],
    ["top-products", "limit=abc", "limit"],
    ["top-products", "limit=1e2", "limit"],
    ["top-products", "limit=-1", "limit"],
    ["top-products", "limit=1.5", "limit"],
    ["top-products", "from=2026-03-01&to=2026-02-01", "to", "invalid_range"],
    ["top-products", "format=csv", "format", "unknown_field"],
    ["summary", "from=2026-01-01", "from", "unknown_field"],
  ];
  it.each(cases)("%s?%s → 400 on %s", async (route, query, field, code) => {
    const p = await expectProblem(await api(`/api/v1/admin/reports/${route}?${query}`, { headers: admin.auth }), 400, "validation_error");
    expect(p.errors).toEqual(expect.arrayContaining([expect.objectContaining({ field, in: "query", ...(code ? { code } : {}) })]));
  });

  it("POST refresh with a query parameter is refused before anything runs", async () => {
    const p = await expectProblem(await api(`${REFRESH}?wait=1`, { method: "POST", headers: admin.auth }), 400, "validation_error");
    expect(p.errors?.[0]).toMatchObject({ field: "wait", code: "unknown_field" });
  });

  it("366 days is the limit: a leap year in full is accepted, one more day is not", async () => {
    const { body } = await getJson<{ days: unknown[]; currencies: string[] }>(
      "/api/v1/admin/reports/sales?from=2024-01-01&to=2024-12-31&currency=XTS",
      admin,
    );
    expect(body.days).toHaveLength(366);
    await expectProblem(await api("/api/v1/admin/reports/sales?from=2023-12-31&to=2024-12-31", { headers: admin.auth }), 400);
  });
});

describe("defaults, empty days, cache headers", () => {
  it("no parameters: the last 30 UTC days up to today, every day present; a quiet currency is all zeros", async () => {
    const [quiet] = freshCurrencies("V", 1);
    const { res, body } = await getJson<{
      from: string;
      to: string;
      currencies: string[];
      days: Record<string, unknown>[];
      totals: unknown[];
    }>(`/api/v1/admin/reports/sales?currency=${quiet}`, admin);
    const today = utcDay(Date.now());
    expect([today, utcDay(Date.now() - 60_000)]).toContain(body.to); // the clock may have passed midnight
    expect(body.from).toBe(utcDay(Date.parse(`${body.to}T00:00:00Z`) - 29 * DAY_MS));
    expect(body.currencies).toEqual([quiet]);
    expect(body.days.map((d) => d.day)).toEqual(
      Array.from({ length: 30 }, (_, i) => utcDay(Date.parse(`${body.from}T00:00:00Z`) + i * DAY_MS)),
    );
    for (const d of body.days)
      expect(d).toEqual({
        day: d.day,
        currency: quiet,
        orders: 0,
        units: 0,
        gross_revenue_cents: 0,
        refunded_cents: 0,
        net_revenue_cents: 0,
        average_order_value_cents: 0,
      });
    expect(body.totals).toEqual([
      {
        currency: quiet,
        orders: 0,
        units: 0,
        gross_revenue_cents: 0,
        refunded_cents: 0,
        net_revenue_cents: 0,
        average_order_value_cents: 0,
      },
    ]);
    expect(res.headers.get("cache-control")).toBe("private, max-age=60");
    expect(res.headers.get("vary")).toMatch(/Accept/);
  });

  it("only `to`: the 30 days up to it; only `from`: from it up to today", async () => {
    const a = await getJson<{ from: string; to: string }>("/api/v1/admin/reports/sales?to=2020-03-01&currency=XTS", admin);
    expect(a.body).toMatchObject({ from: "2020-02-01", to: "2020-03-01" });
    const from = utcDay(Date.now() - 3 * DAY_MS);
    const b = await getJson<{ from: string; to: string; days: unknown[] }>(`/api/v1/admin/reports/sales?from=${from}&currency=XTS`, admin);
    expect(b.body.from).toBe(from);
    expect(b.body.days.length).toBeGreaterThanOrEqual(4);
  });

  it("every read says how long it may be kept: private, max-age = ANALYTICS_CACHE_TTL_SEC; the refresh is no-store", async () => {
    const bindings = { ...env, ANALYTICS_CACHE_TTL_SEC: "5" } as Env;
    for (const path of READS) {
      const res = await apiSettled(path, { headers: admin.auth }, bindings);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("cache-control"), path).toBe("private, max-age=5");
    }
    const csv = await apiSettled("/api/v1/admin/reports/sales?format=csv", { headers: admin.auth }, bindings);
    expect(csv.headers.get("cache-control")).toBe("private, max-age=5");
    const refresh = await apiSettled(REFRESH, { method: "POST", headers: admin.auth }, bindings);
    expect([200, 409]).toContain(refresh.status);
    expect(refresh.headers.get("cache-control")).toBe("no-store");
  });

  it("a CSV of a currency with no sales is the header and one zero row per day", async () => {
    const res = await api("/api/v1/admin/reports/sales?from=2021-06-01&to=2021-06-03&currency=XTS&format=csv", { headers: admin.auth });
    expect(parseCsv(await res.text())).toEqual([
      ["day", "currency", "orders", "units", "gross_revenue_cents", "refunded_cents", "net_revenue_cents", "average_order_value_cents"],
      ["2021-06-01", "XTS", "0", "0", "0", "0", "0", "0"],
      ["2021-06-02", "XTS", "0", "0", "0", "0", "0", "0"],
      ["2021-06-03", "XTS", "0", "0", "0", "0", "0", "0"],
    ]);
  });
});

interface Summary {
  as_of: string;
  windows: Record<string, { from: string; to: string }>;
  sales: ({ currency: string } & Record<string, { orders: number; revenue_cents: number }>)[];
  pending_orders: number;
  webhook_backlog: number;
  dlq_size: number;
}

describe("summary: today so far vs yesterday vs the same weekday last week", () => {
  it("counts the orders paid in each window, per currency, live from the orders; and the backlogs", async () => {
    const [cur] = freshCurrencies("V", 1) as [string];
    const now = Date.now();
    const midnight = Math.floor(now / DAY_MS) * DAY_MS;
    const product = { id: crypto.randomUUID(), sku: `RPT-${crypto.randomUUID().slice(0, 13).toUpperCase()}`, currency: cur };
    const paidAts = [
      now - 90_000,
      midnight,
      midnight + 1,
      ...[1, 7].flatMap((d) => [
        now - d * DAY_MS - 300_000,
        now - d * DAY_MS + 300_000,
        midnight - d * DAY_MS,
        midnight - (d - 1) * DAY_MS - 1,
      ]),
      now - 6 * DAY_MS,
      now - 8 * DAY_MS,
      now + 120_000,
    ];
    const order = (paidAt: number | null, status: GenOrder["status"], price: number): GenOrder => ({
      id: crypto.randomUUID(),
      currency: cur,
      status,
      createdAt: (paidAt ?? now) - 1000,
      paidAt,
      items: [{ productId: product.id, qty: 2, price }],
      payments: [],
    });
    const h: History = {
      currencies: [cur],
      products: [product],
      orders: [...paidAts.map((t, i) => order(t, i % 2 ? "DELIVERED" : "PAID", 100 + i)), order(null, "PENDING", 7)],
      firstDay: "",
      lastDay: "",
    };
    await insertHistory(h);
    const [event] = await sql<{ id: string }>(
      "INSERT INTO webhook_events (provider, event_id, type, payload) VALUES ('sandbox', $1, 'payment.succeeded', '{}'::jsonb) RETURNING id",
      [`evt_rpt_${crypto.randomUUID()}`],
    );
    const [dead] = await sql<{ id: string }>(
      "INSERT INTO dead_letters (queue, message_key, body, attempts) VALUES ('toko-payment-events', $1, '{}'::jsonb, 4) RETURNING id",
      [`rpt-${crypto.randomUUID()}`],
    );
    try {
      const { res, body } = await getJson<Summary>("/api/v1/admin/reports/summary", admin);
      expect(res.headers.get("cache-control")).toBe("private, max-age=60");
      const asOf = Date.parse(body.as_of);
      expect(asOf % 60_000).toBe(0); // steps of the cache window
      expect(asOf).toBeLessThanOrEqual(Date.now());
      expect(Date.now() - asOf).toBeLessThan(60_000 + 5_000);
      const day = Math.floor(asOf / DAY_MS) * DAY_MS;
      const span = (a: number, b: number) => ({ from: new Date(a).toISOString(), to: new Date(b).toISOString() });
      expect(body.windows).toEqual({
        today: span(day, asOf),
        yesterday: span(day - DAY_MS, asOf - DAY_MS),
        yesterday_full_day: span(day - DAY_MS, day),
        same_weekday_last_week: span(day - 7 * DAY_MS, asOf - 7 * DAY_MS),
        same_weekday_last_week_full_day: span(day - 7 * DAY_MS, day - 6 * DAY_MS),
      });
      const mine = body.sales.find((s) => s.currency === cur);
      const want = Object.fromEntries(
        Object.entries(body.windows).map(([name, w]) => {
          const inside = h.orders.filter((o) => o.paidAt !== null && o.paidAt >= Date.parse(w.from) && o.paidAt < Date.parse(w.to));
          return [name, { orders: inside.length, revenue_cents: inside.reduce((s, o) => s + 2 * (o.items[0]?.price ?? 0), 0) }];
        }),
      );
      expect(mine).toEqual({ currency: cur, ...want });
      expect(want.yesterday_full_day?.orders).toBeGreaterThanOrEqual(3);
      expect(want.same_weekday_last_week_full_day?.orders).toBeGreaterThanOrEqual(3);
      expect(body.pending_orders).toBeGreaterThanOrEqual(1);
      expect(body.webhook_backlog).toBeGreaterThanOrEqual(1);
      expect(body.dlq_size).toBeGreaterThanOrEqual(1);
    } finally {
      await sql("DELETE FROM webhook_events WHERE id = $1", [event?.id]);
      await sql("DELETE FROM dead_letters WHERE id = $1", [dead?.id]);
    }
  });
});

describe("CSV cells a spreadsheet would run are defused", () => {
  it("formula-looking text is prefixed with ' and quoted; numbers stay numbers; RFC 4180 quoting round-trips", () => {
    expect(csvCell("=1+2")).toBe(`"'=1+2"`);
    expect(csvCell("+SUM(A1:A9)")).toBe(`"'+SUM(A1:A9)"`);
    expect(csvCell("-2+3+cmd|' /C calc'!A0")).toBe(`"'-2+3+cmd|' /C calc'!A0"`);
    expect(csvCell('@HYPERLINK("http://x")')).toBe(`"'@HYPERLINK(""http://x"")"`);
    expect(csvCell("\tcmd")).toBe(`"'\tcmd"`);
    expect(csvCell("\r=1")).toBe(`"'\r=1"`);
    expect(csvCell(-1250)).toBe("-1250");
    expect(csvCell("-1250")).toBe("-1250");
    expect(csvCell("-12.5")).toBe("-12.5");
    expect(csvCell("USD")).toBe("USD");
    expect(csvCell('a,"b"\nc')).toBe(`"a,""b""\nc"`);
    expect(csvCell(null)).toBe("");
    const rows = [
      ["=cmd", "a,b", 'q"uote', "line\r\nbreak", -7, "@x"],
      ["", "plain", "+1", "-", 0, "x"],
    ];
    const parsed = parseCsv(toCsv(["a", "b", "c", "d", "e", "f"], rows));
    expect(parsed).toEqual([
      ["a", "b", "c", "d", "e", "f"],
      ["'=cmd", "a,b", 'q"uote', "line\r\nbreak", "-7", "'@x"],
      ["", "plain", "'+1", "'-", "0", "x"],
    ]);
    // No parsed text cell starts with a formula character any more.
    for (const cell of parsed.flat()) if (!/^-?\d+(\.\d+)?$/.test(cell)) expect(cell).not.toMatch(/^[=+\-@\t\r]/);
  });

  it("Accept negotiation: CSV only when preferred to JSON", () => {
    expect(prefersCsv("text/csv")).toBe(true);
    expect(prefersCsv("text/csv, application/json")).toBe(true);
    expect(prefersCsv("application/json;q=0.5, text/csv")).toBe(true);
    expect(prefersCsv("application/json, text/csv")).toBe(false);
    expect(prefersCsv("text/csv;q=0.5, application/json")).toBe(false);
    expect(prefersCsv("text/csv;q=0")).toBe(false);
    expect(prefersCsv("text/csv;q=abc")).toBe(false);
    expect(prefersCsv("*/*")).toBe(false);
    expect(prefersCsv(undefined)).toBe(false);
    expect(prefersCsv("TEXT/CSV")).toBe(true);
  });
});
