/**
 * Issue 14: the figures of the sales reports equal a direct aggregate over the orders and refunds.
 * Property test: random histories (several currencies, every order status, partial and full refunds
 * on later days and at midnight, orders created before midnight UTC and paid after it, free orders,
 * surplus captures) are written to Postgres, the views refreshed through the API, and every day of
 * the JSON report, its totals, its CSV and the best-seller rankings compared with what the history
 * alone says (computed in TypeScript, test/reports.helpers.ts).
 */
import { describe, expect, it } from "vitest";
import { api, createUser } from "./helpers.ts";
import {
  type DayRow,
  expectedSales,
  expectedTop,
  FIGURES,
  freshCurrencies,
  generateHistory,
  getJson,
  insertHistory,
  parseCsv,
  refreshNow,
  utcDay,
} from "./reports.helpers.ts";

const admin = await createUser("ADMIN");

interface SalesReport {
  from: string;
  to: string;
  currency: string | null;
  currencies: string[];
  refreshed_at: string | null;
  days: DayRow[];
  totals: ({ currency: string } & Record<(typeof FIGURES)[number], number>)[];
}

const SEEDS = [20_261_201, 7, 424_242, Number(process.env.REPORTS_SEED ?? 99)];

describe("sales report = direct aggregate over random histories", () => {
  it.each(SEEDS)("seed %i: every day, total, CSV row and ranking matches the history", async (seed) => {
    const currencies = freshCurrencies("X", 3);
    const startDay = utcDay(Date.UTC(2021, 0, 1) + (seed % 1400) * 86_400_000);
    const h = generateHistory(seed, { currencies, startDay, days: 12, orders: 90 });
    await insertHistory(h);
    const refreshed = await refreshNow(admin);

    // The whole history, a day of margin each side (zeros).
    const from = utcDay(Date.parse(`${h.firstDay}T00:00:00Z`) - 86_400_000);
    const to = utcDay(Date.parse(`${h.lastDay}T00:00:00Z`) + 86_400_000);
    for (const currency of currencies) {
      const { res, body } = await getJson<SalesReport>(`/api/v1/admin/reports/sales?from=${from}&to=${to}&currency=${currency}`, admin);
      const want = expectedSales(h, currency, from, to);
      expect(body.days, `seed ${seed} ${currency}`).toEqual(want.days);
      expect(body.totals).toEqual([{ currency, ...want.totals }]);
      expect(body).toMatchObject({ from, to, currency, currencies: [currency] });
      expect(Date.parse(body.refreshed_at as string)).toBeGreaterThanOrEqual(Date.parse(refreshed.refreshed_at));
      expect(res.headers.get("cache-control")).toBe("private, max-age=60");
      // Sanity of the generator: the history exercises what it claims to.
      expect(want.totals.refunded_cents).toBeGreaterThan(0);
      expect(want.totals.orders).toBeGreaterThan(0);
    }

    // A sub-range cutting through the history: days and totals restricted to it.
    const mid = utcDay(Date.parse(`${h.firstDay}T00:00:00Z`) + 4 * 86_400_000);
    const end = utcDay(Date.parse(`${h.firstDay}T00:00:00Z`) + 8 * 86_400_000);
    const cut = await getJson<SalesReport>(`/api/v1/admin/reports/sales?from=${mid}&to=${end}&currency=${currencies[0]}`, admin);
    const wantCut = expectedSales(h, currencies[0] as string, mid, end);
    expect(cut.body.days).toEqual(wantCut.days);
    expect(cut.body.totals).toEqual([{ currency: currencies[0], ...wantCut.totals }]);

    // Without a currency filter: one series per currency on record, ours among them, never summed together.
    const all = await getJson<SalesReport>(`/api/v1/admin/reports/sales?from=${from}&to=${to}`, admin);
    expect(all.body.currency).toBeNull();
    expect(all.body.currencies).toEqual(expect.arrayContaining(currencies));
    expect(all.body.currencies).toEqual([...all.body.currencies].sort());
    for (const currency of currencies) {
      expect(all.body.days.filter((d) => d.currency === currency)).toEqual(expectedSales(h, currency, from, to).days);
      expect(all.body.totals.find((t) => t.currency === currency)).toEqual({ currency, ...expectedSales(h, currency, from, to).totals });
    }
    expect(all.body.days).toHaveLength(all.body.currencies.length * ((Date.parse(to) - Date.parse(from)) / 86_400_000 + 1));

    // Best sellers, by revenue and by units, per currency.
    const top = await getJson<{ by_revenue: unknown[]; by_units: unknown[] }>(
      `/api/v1/admin/reports/top-products?from=${from}&to=${to}&currency=${currencies[1]}&limit=3`,
      admin,
    );
    const wantTop = expectedTop({ ...h, orders: h.orders.filter((o) => o.currency === currencies[1]) }, from, to, 3);
    expect(top.body.by_revenue).toEqual(wantTop.by_revenue.map((r) => ({ ...r, name: `Report thing ${r.sku}` })));
    expect(top.body.by_units).toEqual(wantTop.by_units.map((r) => ({ ...r, name: `Report thing ${r.sku}` })));
    const topAll = await getJson<{ by_revenue: { currency: string }[]; by_units: { currency: string }[] }>(
      `/api/v1/admin/reports/top-products?from=${from}&to=${to}&limit=2`,
      admin,
    );
    const wantAll = expectedTop(h, from, to, 2);
    expect(topAll.body.by_revenue.filter((r) => currencies.includes(r.currency))).toEqual(
      wantAll.by_revenue.map((r) => ({ ...r, name: `Report thing ${r.sku}` })),
    );
  });

  it("the CSV export parses (RFC 4180) and says exactly what the JSON says", async () => {
    const currencies = freshCurrencies("X", 2);
    const h = generateHistory(31_337, { currencies, startDay: "2024-02-25", days: 8, orders: 60 }); // crosses 29 February
    await insertHistory(h);
    await refreshNow(admin);
    const q = `from=${h.firstDay}&to=${h.lastDay}&currency=${currencies[0]}`;
    const json = await getJson<SalesReport>(`/api/v1/admin/reports/sales?${q}`, admin);
    const asks: { query: string; headers: Record<string, string> }[] = [
      { query: "&format=csv", headers: {} },
      { query: "", headers: { Accept: "text/csv" } },
    ];
    for (const ask of asks) {
      const res = await api(`/api/v1/admin/reports/sales?${q}${ask.query}`, { headers: { ...admin.auth, ...ask.headers } });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(res.headers.get("content-disposition")).toBe(`attachment; filename="sales-${h.firstDay}-${h.lastDay}-${currencies[0]}.csv"`);
      expect(res.headers.get("cache-control")).toBe("private, max-age=60");
      const [header, ...rows] = parseCsv(await res.text());
      expect(header).toEqual(["day", "currency", ...FIGURES]);
      const asJson = rows.map((r) =>
        Object.fromEntries((header as string[]).map((k, i) => [k, k === "day" || k === "currency" ? r[i] : Number(r[i])])),
      );
      expect(asJson).toEqual(json.body.days);
      expect(rows.length).toBe((Date.parse(h.lastDay) - Date.parse(h.firstDay)) / 86_400_000 + 1);
    }
    // JSON stays the default, and wins when the client prefers it.
    for (const accept of ["application/json", "application/json, text/csv", "text/csv;q=0.5, application/json", "*/*"]) {
      const res = await api(`/api/v1/admin/reports/sales?${q}`, { headers: { ...admin.auth, Accept: accept } });
      expect(res.headers.get("content-type"), accept).toMatch(/^application\/json/);
    }
  });
});
