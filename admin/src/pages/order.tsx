/**
 * One order: lines, totals, payments, status history, and the status changes the state machine allows,
 * each sent with the version read. A 409 version_conflict shows what changed and offers a reload.
 * Fields the console does not know yet (shipping, added by another issue) are shown generically.
 */
import { useState } from "preact/hooks";
import { ApiProblem, api } from "../api.ts";
import { money, shortId } from "../format.ts";
import { CONSEQUENTIAL, nextStatuses } from "../orders-common.ts";
import type { Order, OrderStatus, OrderTimeline } from "../types.ts";
import {
  Badge,
  Dialog,
  Empty,
  ErrorNote,
  Field,
  Link,
  Loading,
  PageTitle,
  problemText,
  TableWrap,
  Time,
  useConfirm,
  useResource,
  useToast,
} from "../ui.tsx";

const KNOWN = new Set([
  "id",
  "user_id",
  "customer_email",
  "status",
  "currency",
  "subtotal_cents",
  "total_cents",
  "version",
  "client_token",
  "expires_at",
  "items",
  "created_at",
  "updated_at",
]);

/** What differs between the order as read and as it is now (the conflict dialog). */
const COMPARED: [keyof Order, string][] = [
  ["status", "Status"],
  ["version", "Version"],
  ["updated_at", "Last change"],
  ["total_cents", "Total (minor units)"],
];

const label = (key: string) => {
  const t = key.replace(/_cents$/, "").replace(/_/g, " ");
  return t.charAt(0).toUpperCase() + t.slice(1);
};

/** Any value the console has no special view for: money by name, ISO times, objects as a list, the rest as text. */
function Generic({ name, value, currency }: { name: string; value: unknown; currency: string }) {
  if (value === null || value === undefined || value === "") return <span class="muted">—</span>;
  if (typeof value === "number" && name.endsWith("_cents")) return <>{money(value, currency)}</>;
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}T/.test(value)) return <Time iso={value} />;
  if (Array.isArray(value)) return <>{value.map((v) => (typeof v === "object" ? JSON.stringify(v) : String(v))).join(", ")}</>;
  if (typeof value === "object") {
    return (
      <dl class="kv nested">
        {Object.entries(value as Record<string, unknown>).map(([k, v]) => (
          <div key={k}>
            <dt>{label(k)}</dt>
            <dd>
              <Generic name={k} value={v} currency={currency} />
            </dd>
          </div>
        ))}
      </dl>
    );
  }
  return <>{String(value)}</>;
}

export function OrderPage({ id }: { id: string }) {
  const order = useResource((signal) => api<Order>(`/api/v1/orders/${id}`, { signal }), id);
  const [timelineKey, setTimelineKey] = useState(0);
  const timeline = useResource((signal) => api<OrderTimeline>(`/api/v1/admin/orders/${id}/timeline`, { signal }), `${id}|${timelineKey}`);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [conflict, setConflict] = useState<{ mine: Order; now: Order | null; err: ApiProblem } | null>(null);
  const toast = useToast();
  const [confirm, confirmDialog] = useConfirm();

  const o = order.data;
  const reloadAll = () => {
    order.reload();
    setTimelineKey((k) => k + 1);
  };

  const change = async (to: OrderStatus) => {
    if (!o) return;
    if (CONSEQUENTIAL.includes(to) && !(await confirm(`Mark order ${shortId(o.id)} as ${to}? This cannot be undone.`, `Mark ${to}`)))
      return;
    setBusy(true);
    try {
      const updated = await api<Order>(`/api/v1/orders/${o.id}/status`, {
        method: "PATCH",
        body: { status: to, version: o.version, ...(reason.trim() ? { reason: reason.trim() } : {}) },
      });
      order.set(updated);
      setReason("");
      setTimelineKey((k) => k + 1);
      toast("success", `Order ${shortId(o.id)} is now ${updated.status}.`);
    } catch (err) {
      if (err instanceof ApiProblem && err.code === "version_conflict") {
        const now = await api<Order>(`/api/v1/orders/${o.id}`).catch(() => null);
        setConflict({ mine: o, now, err });
        toast("error", "Someone else changed this order: nothing was applied.", err.requestId);
      } else {
        const { text, requestId } = problemText(err);
        toast("error", `Not changed: ${text}`, requestId);
      }
    } finally {
      setBusy(false);
    }
  };

  if (order.error && !o) {
    return (
      <div>
        <PageTitle>Order {shortId(id)}</PageTitle>
        <ErrorNote error={order.error} retry={order.reload} />
        <p>
          <Link to="/orders">Back to orders</Link>
        </p>
      </div>
    );
  }
  if (!o) return <Loading what="Loading the order" />;
  const next = nextStatuses(o.status);
  // Shipping (issue 19) when the API sends it: its amount joins the totals, the rest is shown generically.
  const shippingCents = (o as Record<string, unknown>).shipping_cents;
  const extra = Object.entries(o as Record<string, unknown>).filter(
    ([k, v]) => !KNOWN.has(k) && !(k === "shipping_cents" && typeof v === "number") && v !== null,
  );

  return (
    <div>
      <p class="crumbs">
        <Link to="/orders">Orders</Link> / <span class="mono">{shortId(o.id)}</span>
      </p>
      <PageTitle>
        Order <span class="mono">{shortId(o.id)}</span> <Badge value={o.status} />
      </PageTitle>
      <ErrorNote error={order.error} />

      <div class="grid">
        <section class="card" aria-labelledby="summary-h">
          <h2 id="summary-h">Summary</h2>
          <dl class="kv">
            <div>
              <dt>Order id</dt>
              <dd class="mono">{o.id}</dd>
            </div>
            <div>
              <dt>Customer</dt>
              <dd>
                {o.customer_email ? <Link to={`/customers?email=${encodeURIComponent(o.customer_email)}`}>{o.customer_email}</Link> : "—"}
              </dd>
            </div>
            <div>
              <dt>Placed</dt>
              <dd>
                <Time iso={o.created_at} />
              </dd>
            </div>
            <div>
              <dt>Last change</dt>
              <dd>
                <Time iso={o.updated_at} />
              </dd>
            </div>
            {o.status === "PENDING" && o.expires_at ? (
              <div>
                <dt>Expires unpaid</dt>
                <dd>
                  <Time iso={o.expires_at} />
                </dd>
              </div>
            ) : null}
            <div>
              <dt>Version</dt>
              <dd>{o.version}</dd>
            </div>
          </dl>
        </section>

        <section class="card" aria-labelledby="actions-h">
          <h2 id="actions-h">Change status</h2>
          {next.length ? (
            <>
              <Field label="Reason (optional, kept in the history)">
                {(fid) => <input id={fid} value={reason} maxLength={500} onInput={(e) => setReason(e.currentTarget.value)} />}
              </Field>
              <div class="actions">
                {next.map((s) => (
                  <button key={s} type="button" class={CONSEQUENTIAL.includes(s) ? "danger" : ""} disabled={busy} onClick={() => change(s)}>
                    Mark {s}
                  </button>
                ))}
              </div>
            </>
          ) : (
            <p class="muted">{o.status} is final: no further status change is possible.</p>
          )}
        </section>
      </div>

      <section class="card" aria-labelledby="lines-h">
        <h2 id="lines-h">Lines</h2>
        <TableWrap label="Order lines">
          <table>
            <thead>
              <tr>
                <th scope="col">SKU</th>
                <th scope="col">Product</th>
                <th scope="col" class="num">
                  Unit price
                </th>
                <th scope="col" class="num">
                  Qty
                </th>
                <th scope="col" class="num">
                  Line total
                </th>
              </tr>
            </thead>
            <tbody>
              {o.items.map((i) => (
                <tr key={i.product_id}>
                  <td class="mono">{i.sku}</td>
                  <td>{i.name}</td>
                  <td class="num">{money(i.unit_price_cents, o.currency)}</td>
                  <td class="num">{i.qty}</td>
                  <td class="num">{money(i.line_total_cents, o.currency)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row" colSpan={4} class="num">
                  Subtotal
                </th>
                <td class="num">{money(o.subtotal_cents, o.currency)}</td>
              </tr>
              {typeof shippingCents === "number" ? (
                <tr>
                  <th scope="row" colSpan={4} class="num">
                    Shipping
                  </th>
                  <td class="num">{money(shippingCents, o.currency)}</td>
                </tr>
              ) : null}
              <tr>
                <th scope="row" colSpan={4} class="num">
                  Total
                </th>
                <td class="num strong">{money(o.total_cents, o.currency)}</td>
              </tr>
            </tfoot>
          </table>
        </TableWrap>
      </section>

      {extra.length ? (
        <section class="card" aria-labelledby="extra-h">
          <h2 id="extra-h">Shipping and other details</h2>
          <dl class="kv">
            {extra.map(([k, v]) => (
              <div key={k}>
                <dt>{label(k)}</dt>
                <dd>
                  <Generic name={k} value={v} currency={o.currency} />
                </dd>
              </div>
            ))}
          </dl>
        </section>
      ) : null}

      <div class="grid">
        <section class="card" aria-labelledby="payments-h">
          <h2 id="payments-h">Payments</h2>
          <ErrorNote error={timeline.error} retry={() => setTimelineKey((k) => k + 1)} />
          {timeline.loading && !timeline.data ? <Loading what="Loading payments" /> : null}
          {timeline.data && !timeline.data.payments.length ? <Empty>No payment yet.</Empty> : null}
          {timeline.data?.payments.length ? (
            <TableWrap label="Payments">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Payment</th>
                    <th scope="col">Provider</th>
                    <th scope="col">Status</th>
                    <th scope="col" class="num">
                      Amount
                    </th>
                    <th scope="col" class="num">
                      Refunded
                    </th>
                    <th scope="col">Opened</th>
                  </tr>
                </thead>
                <tbody>
                  {timeline.data.payments.map((p) => (
                    <tr key={p.payment_id}>
                      <td class="mono" title={p.payment_id}>
                        {shortId(p.payment_id)}
                      </td>
                      <td>
                        {p.provider}
                        {p.failed_attempts ? <span class="muted"> ({p.failed_attempts} failed)</span> : null}
                      </td>
                      <td>
                        <Badge value={p.status} />
                      </td>
                      <td class="num">{money(p.amount_cents, p.currency)}</td>
                      <td class="num">{money(p.amount_refunded_cents, p.currency)}</td>
                      <td>
                        <Time iso={p.created_at} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          ) : null}
        </section>

        <section class="card" aria-labelledby="history-h">
          <h2 id="history-h">Status history</h2>
          {timeline.data ? (
            <ol class="history">
              {timeline.data.history.map((h) => (
                <li key={`${h.at}-${h.to_status}`}>
                  <Time iso={h.at} /> — {h.from_status ? `${h.from_status} → ` : "placed as "}
                  <Badge value={h.to_status} /> <span class="muted">by {h.actor_email ?? h.actor_role}</span>
                  {h.reason ? <div class="muted">“{h.reason}”</div> : null}
                </li>
              ))}
            </ol>
          ) : null}
        </section>
      </div>

      <Dialog title="This order changed since you opened it" open={!!conflict} onClose={() => setConflict(null)} wide>
        {conflict ? (
          <>
            <p>Nothing was applied: another person or the system changed the order first. Compare, then reload and decide again.</p>
            <TableWrap label="What changed">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Field</th>
                    <th scope="col">You saw</th>
                    <th scope="col">Now</th>
                  </tr>
                </thead>
                <tbody>
                  {COMPARED.map(([k, name]) => {
                    const before = String(conflict.mine[k] ?? "—");
                    const after = conflict.now ? String(conflict.now[k] ?? "—") : "(could not be read)";
                    return (
                      <tr key={k} class={before !== after ? "changed" : ""}>
                        <th scope="row">{name}</th>
                        <td>{k === "updated_at" ? <Time iso={before} /> : before}</td>
                        <td>
                          {k === "updated_at" && conflict.now ? <Time iso={after} /> : after}
                          {before !== after ? <span class="sr-only"> (changed)</span> : null}
                        </td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </TableWrap>
            {conflict.err.requestId ? (
              <p class="muted">
                Request id: <code>{conflict.err.requestId}</code>
              </p>
            ) : null}
            <div class="actions">
              <button type="button" class="secondary" onClick={() => setConflict(null)}>
                Close
              </button>
              <button
                type="button"
                onClick={() => {
                  if (conflict.now) order.set(conflict.now);
                  else reloadAll();
                  setTimelineKey((k) => k + 1);
                  setConflict(null);
                }}
              >
                Reload the order
              </button>
            </div>
          </>
        ) : null}
      </Dialog>
      {confirmDialog}
    </div>
  );
}
