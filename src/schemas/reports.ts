/** Sales reports (ADMIN): query parameters and response bodies. Money in integer minor units, one currency per figure. */
import { z } from "@hono/zod-openapi";
import { daysInMonth, MAX_YEAR, MIN_YEAR } from "../lib/input-rules.ts";
import { CurrencySchema, queryInt } from "./common.ts";

/** A calendar date, `YYYY-MM-DD`, in MIN_YEAR–MAX_YEAR (a UTC day). */
export const DaySchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a date as YYYY-MM-DD")
  .refine(
    (s) => {
      const [y, m, d] = s.split("-").map(Number) as [number, number, number];
      return y >= MIN_YEAR && y <= MAX_YEAR && m >= 1 && m <= 12 && d >= 1 && d <= daysInMonth(y, m);
    },
    { message: `must be a real calendar date in the years ${MIN_YEAR}–${MAX_YEAR}` },
  )
  .openapi({ type: "string", format: "date", example: "2026-11-01" });

const range = {
  from: DaySchema.optional().openapi({
    param: { name: "from", in: "query" },
    description: "First UTC day, inclusive (default: 29 days before `to`). At most 366 days from `to`.",
  }),
  to: DaySchema.optional().openapi({ param: { name: "to", in: "query" }, description: "Last UTC day, inclusive (default: today, UTC)" }),
  currency: CurrencySchema.optional().openapi({
    param: { name: "currency", in: "query" },
    description:
      "Only this currency (default: every currency on record, each reported on its own: amounts are never summed across currencies)",
  }),
};

export const SalesQuerySchema = z
  .object({
    ...range,
    format: z
      .enum(["json", "csv"])
      .optional()
      .openapi({ param: { name: "format", in: "query" }, description: "`csv` for a spreadsheet (also chosen by `Accept: text/csv`)" }),
  })
  .strict();

export const TopProductsQuerySchema = z
  .object({
    ...range,
    limit: queryInt(1, 100)
      .optional()
      .openapi({
        param: { name: "limit", in: "query" },
        type: "integer",
        minimum: 1,
        maximum: 100,
        default: 10,
        description: "Products per ranking and currency",
      }),
  })
  .strict();

export type SalesQuery = z.infer<typeof SalesQuerySchema>;
export type TopProductsQuery = z.infer<typeof TopProductsQuerySchema>;

const cents = (description: string) => z.number().int().openapi({ description });

const Figures = {
  orders: z.number().int().openapi({ description: "Orders paid (PENDING → PAID) that day" }),
  units: z.number().int().openapi({ description: "Units in those orders" }),
  gross_revenue_cents: cents("Totals of those orders"),
  refunded_cents: cents("Refunds recorded that day, whichever day their order was paid"),
  net_revenue_cents: cents("gross − refunded (negative on a day when refunds exceed sales)"),
  average_order_value_cents: cents("gross ÷ orders, rounded to the minor unit (0 without orders)"),
};

export const SalesDaySchema = z
  .object({
    day: z.string().openapi({ format: "date", example: "2026-11-01" }),
    currency: z.string().openapi({ example: "USD" }),
    ...Figures,
  })
  .openapi("SalesDay");

export const SalesTotalsSchema = z.object({ currency: z.string().openapi({ example: "USD" }), ...Figures }).openapi("SalesTotals");

const refreshedAt = z
  .string()
  .nullable()
  .openapi({ format: "date-time", description: "When the views were last refreshed: the figures are as of then" });

export const SalesReportSchema = z
  .object({
    from: z.string().openapi({ format: "date" }),
    to: z.string().openapi({ format: "date" }),
    currency: z.string().nullable(),
    currencies: z.array(z.string()).openapi({ description: "The currencies reported, one series each" }),
    refreshed_at: refreshedAt,
    days: z
      .array(SalesDaySchema)
      .openapi({ description: "Every day of the range for every currency (zeros on a quiet day), by day then currency" }),
    totals: z.array(SalesTotalsSchema).openapi({ description: "Per currency over the range" }),
  })
  .openapi("SalesReport");

export const TopProductSchema = z
  .object({
    rank: z.number().int(),
    currency: z.string(),
    product_id: z.string().uuid(),
    sku: z.string(),
    name: z.string().openapi({ description: "Current catalogue name" }),
    orders: z.number().int(),
    units: z.number().int(),
    revenue_cents: cents("Line totals before refunds (refunds are not itemised)"),
  })
  .openapi("TopProduct");

export const TopProductsSchema = z
  .object({
    from: z.string().openapi({ format: "date" }),
    to: z.string().openapi({ format: "date" }),
    currency: z.string().nullable(),
    limit: z.number().int(),
    refreshed_at: refreshedAt,
    by_revenue: z.array(TopProductSchema).openapi({ description: "Per currency, best first (ties: more units, then product id)" }),
    by_units: z.array(TopProductSchema).openapi({ description: "Per currency, most units first (ties: more revenue, then product id)" }),
  })
  .openapi("TopProducts");

const Period = z.object({ orders: z.number().int(), revenue_cents: cents("Gross: totals of the orders paid in the window") });

export const SUMMARY_WINDOWS = [
  "today",
  "yesterday",
  "yesterday_full_day",
  "same_weekday_last_week",
  "same_weekday_last_week_full_day",
] as const;
export type SummaryWindow = (typeof SUMMARY_WINDOWS)[number];

export const SalesSummarySchema = z
  .object({
    as_of: z.string().openapi({ format: "date-time", description: "Now, in steps of ANALYTICS_CACHE_TTL_SEC" }),
    windows: z
      .object(
        Object.fromEntries(SUMMARY_WINDOWS.map((w) => [w, z.object({ from: z.string(), to: z.string() })])) as Record<
          SummaryWindow,
          z.ZodObject<{ from: z.ZodString; to: z.ZodString }>
        >,
      )
      .openapi({
        description:
          "Each window [from, to): today so far; yesterday and the same weekday last week up to the same time of day, and in full",
      }),
    sales: z.array(
      z.object({
        currency: z.string(),
        ...(Object.fromEntries(SUMMARY_WINDOWS.map((w) => [w, Period])) as Record<SummaryWindow, typeof Period>),
      }),
    ),
    pending_orders: z.number().int().openapi({ description: "Unpaid PENDING orders" }),
    webhook_backlog: z.number().int().openapi({ description: "Webhook events RECEIVED, not yet settled" }),
    dlq_size: z.number().int().openapi({ description: "Dead letters not replayed" }),
  })
  .openapi("SalesSummary");

export const RefreshResultSchema = z
  .object({
    refreshed_at: z.string().openapi({ format: "date-time" }),
    started_at: z.string().openapi({ format: "date-time" }),
    duration_ms: z.number().int(),
  })
  .openapi("ReportRefresh");
