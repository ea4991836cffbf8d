/** Dashboard: today against yesterday and last week (reports summary), and 30 days of revenue drawn in SVG. */
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { money } from "../format.ts";
import type { SalesReport, SalesSummary } from "../types.ts";
import { Empty, ErrorNote, Link, Loading, PageTitle, problemText, TableWrap, Time, useResource, useToast } from "../ui.tsx";

function change(now: number, before: number): string {
  if (!before) return now ? "new" : "±0";
  const pct = Math.round(((now - before) / before) * 100);
  return `${pct >= 0 ? "+" : ""}${pct} %`;
}

function Chart({ report, currency }: { report: SalesReport; currency: string }) {
  const days = report.days.filter((d) => d.currency === currency);
  const max = Math.max(1, ...days.map((d) => d.gross_revenue_cents));
  const W = 720;
  const H = 220;
  const pad = { l: 8, r: 8, t: 12, b: 28 };
  const bw = (W - pad.l - pad.r) / Math.max(days.length, 1);
  const y = (v: number) => pad.t + (H - pad.t - pad.b) * (1 - Math.max(v, 0) / max);
  const total = days.reduce((n, d) => n + d.gross_revenue_cents, 0);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="chart-title chart-desc" preserveAspectRatio="none">
        <title id="chart-title">Revenue per day in {currency}</title>
        <desc id="chart-desc">
          Gross revenue of the orders paid each day from {report.from} to {report.to}: {money(total, currency)} in total, at most{" "}
          {money(max, currency)} on one day. The table below has every value.
        </desc>
        <line x1={pad.l} x2={W - pad.r} y1={H - pad.b} y2={H - pad.b} class="axis" />
        {days.map((d, i) => (
          <rect
            key={d.day}
            x={pad.l + i * bw + 1}
            width={Math.max(bw - 2, 1)}
            y={y(d.gross_revenue_cents)}
            height={H - pad.b - y(d.gross_revenue_cents)}
            class="bar"
          >
            <title>{`${d.day}: ${money(d.gross_revenue_cents, currency)} (${d.orders} orders)`}</title>
          </rect>
        ))}
        {days.map((d, i) =>
          i % 5 === 0 || i === days.length - 1 ? (
            <text key={`t${d.day}`} x={pad.l + i * bw + bw / 2} y={H - 8} class="tick" text-anchor="middle">
              {d.day.slice(5)}
            </text>
          ) : null,
        )}
      </svg>
      <figcaption class="muted">
        Gross revenue per UTC day, {report.from} – {report.to}. Figures as of{" "}
        {report.refreshed_at ? <Time iso={report.refreshed_at} /> : "the next refresh"}.
      </figcaption>
      <details>
        <summary>Show the figures as a table</summary>
        <TableWrap label={`Revenue per day in ${currency}`}>
          <table>
            <thead>
              <tr>
                <th scope="col">Day (UTC)</th>
                <th scope="col" class="num">
                  Orders
                </th>
                <th scope="col" class="num">
                  Gross
                </th>
                <th scope="col" class="num">
                  Refunded
                </th>
                <th scope="col" class="num">
                  Net
                </th>
              </tr>
            </thead>
            <tbody>
              {days.map((d) => (
                <tr key={d.day}>
                  <td>{d.day}</td>
                  <td class="num">{d.orders}</td>
                  <td class="num">{money(d.gross_revenue_cents, currency)}</td>
                  <td class="num">{money(d.refunded_cents, currency)}</td>
                  <td class="num">{money(d.net_revenue_cents, currency)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </details>
    </figure>
  );
}

export function DashboardPage() {
  const summary = useResource((signal) => api<SalesSummary>("/api/v1/admin/reports/summary", { signal }), "summary");
  const sales = useResource((signal) => api<SalesReport>("/api/v1/admin/reports/sales", { signal }), "sales");
  const [currency, setCurrency] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const toast = useToast();
  const refresh = async () => {
    setBusy(true);
    try {
      await api("/api/v1/admin/reports/refresh", { method: "POST" });
      toast("success", "Reports refreshed.");
      summary.reload();
      sales.reload();
    } catch (err) {
      const { text, requestId } = problemText(err);
      toast("error", `Refresh failed: ${text}`, requestId);
    } finally {
      setBusy(false);
    }
  };
  const s = summary.data;
  const cur = currency ?? sales.data?.currencies[0] ?? null;
  return (
    <div>
      <PageTitle
        actions={
          <button type="button" class="secondary" onClick={refresh} disabled={busy}>
            Refresh reports
          </button>
        }
      >
        Dashboard
      </PageTitle>
      <ErrorNote error={summary.error} retry={summary.reload} />
      {summary.loading && !s ? <Loading what="Loading the summary" /> : null}
      {s ? (
        <>
          <div class="tiles">
            <Link to="/orders?status=PENDING" class="tile">
              <span class="tile-value">{s.pending_orders}</span>
              <span>unpaid orders</span>
            </Link>
            <Link to="/queue" class="tile">
              <span class="tile-value">{s.webhook_backlog}</span>
              <span>webhook events waiting</span>
            </Link>
            <Link to="/queue" class={`tile${s.dlq_size ? " warn" : ""}`}>
              <span class="tile-value">{s.dlq_size}</span>
              <span>dead letters</span>
            </Link>
          </div>
          <section class="card" aria-labelledby="today-h">
            <h2 id="today-h">Today so far</h2>
            {s.sales.length === 0 ? <Empty>No sales recorded yet.</Empty> : null}
            {s.sales.length ? (
              <TableWrap label="Sales today compared">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Currency</th>
                      <th scope="col" class="num">
                        Orders today
                      </th>
                      <th scope="col" class="num">
                        Revenue today
                      </th>
                      <th scope="col" class="num">
                        vs yesterday, same time
                      </th>
                      <th scope="col" class="num">
                        vs last week, same time
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {s.sales.map((r) => (
                      <tr key={r.currency}>
                        <th scope="row">{r.currency}</th>
                        <td class="num">{r.today.orders}</td>
                        <td class="num">{money(r.today.revenue_cents, r.currency)}</td>
                        <td class="num" title={money(r.yesterday.revenue_cents, r.currency)}>
                          {change(r.today.revenue_cents, r.yesterday.revenue_cents)}
                        </td>
                        <td class="num" title={money(r.same_weekday_last_week.revenue_cents, r.currency)}>
                          {change(r.today.revenue_cents, r.same_weekday_last_week.revenue_cents)}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </TableWrap>
            ) : null}
            <p class="muted">
              As of <Time iso={s.as_of} />.
            </p>
          </section>
        </>
      ) : null}
      <section class="card" aria-labelledby="rev-h">
        <div class="page-head">
          <h2 id="rev-h">Revenue, last 30 days</h2>
          {sales.data && sales.data.currencies.length > 1 ? (
            <div class="actions">
              <label for="chart-currency">Currency</label>
              <select id="chart-currency" value={cur ?? ""} onChange={(e) => setCurrency(e.currentTarget.value)}>
                {sales.data.currencies.map((c) => (
                  <option key={c} value={c}>
                    {c}
                  </option>
                ))}
              </select>
            </div>
          ) : null}
        </div>
        <ErrorNote error={sales.error} retry={sales.reload} />
        {sales.loading && !sales.data ? <Loading what="Loading the sales report" /> : null}
        {sales.data && !cur ? <Empty>No sales in the last 30 days.</Empty> : null}
        {sales.data && cur ? <Chart report={sales.data} currency={cur} /> : null}
      </section>
    </div>
  );
}
