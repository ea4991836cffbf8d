/**
 * ADMIN: sales reports (docs/reports.md). Reads through HYPERDRIVE_CACHED, answered with
 * `Cache-Control: private, max-age=ANALYTICS_CACHE_TTL_SEC`; the refresh runs now and waits.
 */
import { createRoute, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../app-env.ts";
import { ApiError } from "../lib/problem.ts";
import { NoQuerySchema } from "../schemas/catalog.ts";
import { authResponses, jsonContent, problem, problemResponses } from "../schemas/common.ts";
import {
  RefreshResultSchema,
  SalesQuerySchema,
  SalesReportSchema,
  SalesSummarySchema,
  TopProductsQuerySchema,
  TopProductsSchema,
} from "../schemas/reports.ts";
import {
  analyticsDatabase,
  type ReportsDb,
  refreshReports,
  salesCsv,
  salesReport,
  salesSummary,
  topProducts,
} from "../services/reports.service.ts";
import { createRouter } from "./router.ts";

const security = [{ bearerAuth: [] }];

/** One connection through the caching binding per request, opened on first use and closed after the response. */
async function cachedRead<T>(c: Context<AppEnv>, read: (db: ReportsDb) => Promise<T>): Promise<T> {
  const db = analyticsDatabase(c.env, c.get("config"));
  try {
    return await read(await db.orm());
  } finally {
    if (db.isOpen()) {
      const closing = db.close();
      try {
        c.executionCtx.waitUntil(closing);
      } catch {
        await closing; // no execution context (plain app.request in a unit test)
      }
    }
  }
}

const cacheControl = (c: Context<AppEnv>) => ({ "Cache-Control": `private, max-age=${c.get("config").ANALYTICS_CACHE_TTL_SEC}` });

/** `Accept: text/csv` preferred to JSON (higher q, or the same q listed first). */
export function prefersCsv(accept: string | undefined): boolean {
  let csv = { q: 0, at: Number.POSITIVE_INFINITY };
  let json = { q: -1, at: Number.POSITIVE_INFINITY };
  (accept ?? "").split(",").forEach((part, at) => {
    const [type, ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    const qParam = params.find((p) => p.startsWith("q="));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!Number.isFinite(q) || q < 0 || q > 1) return;
    if (type === "text/csv" && q > csv.q) csv = { q, at };
    if (type === "application/json" && q > json.q) json = { q, at };
  });
  return csv.q > 0 && (csv.q > json.q || (csv.q === json.q && csv.at < json.at));
}

export const adminReportsRouter = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/reports/sales",
      operationId: "adminSalesReport",
      tags: ["Admin"],
      summary: "Daily sales per currency (orders, units, gross, refunded, net, average order value), totals; JSON or CSV",
      description:
        "From the `daily_sales` view, as of `refreshed_at`. Days are UTC; every day of the range is present for every currency reported (zeros on a quiet day). `?format=csv` or `Accept: text/csv` answers the `days` as CSV.",
      security,
      request: { query: SalesQuerySchema },
      responses: {
        200: {
          description: "The report",
          content: {
            "application/json": { schema: SalesReportSchema },
            "text/csv": { schema: z.string().openapi({ example: "day,currency,orders,units,…\r\n2026-11-01,USD,3,5,…\r\n" }) },
          },
        },
        ...authResponses,
        ...problemResponses,
      },
    }),
    async (c) => {
      const { format, ...q } = c.req.valid("query");
      const csv = format === "csv" || (format === undefined && prefersCsv(c.req.header("accept")));
      const report = await cachedRead(c, (db) => salesReport(db, q, Date.now()));
      const headers = { ...cacheControl(c), Vary: "Accept" };
      if (!csv) return c.json(report, 200, headers);
      const name = `sales-${report.from}-${report.to}${report.currency ? `-${report.currency}` : ""}.csv`;
      return c.body(salesCsv(report), 200, {
        ...headers,
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": `attachment; filename="${name}"`,
      }) as never;
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/reports/top-products",
      operationId: "adminTopProducts",
      tags: ["Admin"],
      summary: "Best sellers per currency over a range of days: by revenue and by units",
      security,
      request: { query: TopProductsQuerySchema },
      responses: {
        200: { description: "The rankings", content: jsonContent(TopProductsSchema) },
        ...authResponses,
        ...problemResponses,
      },
    }),
    async (c) => c.json(await cachedRead(c, (db) => topProducts(db, c.req.valid("query"), Date.now())), 200, cacheControl(c)),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/reports/summary",
      operationId: "adminSalesSummary",
      tags: ["Admin"],
      summary:
        "Today so far vs yesterday vs the same weekday last week (orders, revenue per currency), open PENDING orders, webhook backlog, DLQ size",
      security,
      request: { query: NoQuerySchema },
      responses: {
        200: { description: "The summary", content: jsonContent(SalesSummarySchema) },
        ...authResponses,
        ...problemResponses,
      },
    }),
    async (c) =>
      c.json(await cachedRead(c, (db) => salesSummary(db, Date.now(), c.get("config").ANALYTICS_CACHE_TTL_SEC)), 200, cacheControl(c)),
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/reports/refresh",
      operationId: "adminRefreshReports",
      tags: ["Admin"],
      summary: "Refresh the sales views now and wait for it (one at a time: 409 while another refresh runs)",
      security,
      request: { query: NoQuerySchema },
      responses: {
        200: { description: "Refreshed", content: jsonContent(RefreshResultSchema) },
        ...authResponses,
        ...problemResponses,
        409: problem("Another refresh is running (`refresh_in_progress`, with Retry-After)"),
      },
    }),
    async (c) => {
      const log = c.get("log").child({ actor: c.get("principal").userId });
      const result = await refreshReports({ env: c.env, cfg: c.get("config"), log }, "api");
      if (!result) {
        throw new ApiError(
          "refresh_in_progress",
          "Another refresh of the reports is running; its result will be the same. Retry shortly.",
          {
            headers: { "Retry-After": "5" },
          },
        );
      }
      return c.json(result, 200, { "Cache-Control": "no-store" });
    },
  );
