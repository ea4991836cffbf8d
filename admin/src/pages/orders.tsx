/** Orders: filter (status, search, date range), newest first with cursor paging, bulk status change, CSV export. */
import { useState } from "preact/hooks";
import { ApiProblem, api } from "../api.ts";
import { toCsv } from "../csv.ts";
import { dayBound, money, shortId } from "../format.ts";
import { nextStatuses, STATUSES } from "../orders-common.ts";
import { href, navigate } from "../router.ts";
import type { Order, OrderList, OrderStatus } from "../types.ts";
import {
  Badge,
  download,
  Empty,
  ErrorNote,
  Field,
  Link,
  ListPager,
  Loading,
  PageTitle,
  problemText,
  TableWrap,
  Time,
  useConfirm,
  useCursor,
  useResource,
  useToast,
} from "../ui.tsx";

interface Filter {
  status: string;
  q: string;
  from: string;
  to: string;
}

const readFilter = (q: URLSearchParams): Filter => ({
  status: q.get("status") ?? "",
  q: q.get("q") ?? "",
  from: q.get("from") ?? "",
  to: q.get("to") ?? "",
});

/** The API's query for a filter: local days become RFC 3339 instants. */
const apiQuery = (f: Filter) => ({
  status: f.status || undefined,
  q: f.q.trim() || undefined,
  created_from: f.from ? dayBound(f.from, false) : undefined,
  created_to: f.to ? dayBound(f.to, true) : undefined,
});

const EXPORT_MAX_PAGES = 100; // 10,000 orders

export function OrdersPage({ query }: { query: URLSearchParams }) {
  const filter = readFilter(query);
  const filterKey = JSON.stringify(filter);
  const pages = useCursor(filterKey);
  const list = useResource(
    (signal) => api<OrderList>("/api/v1/orders", { query: { ...apiQuery(filter), limit: 25, cursor: pages.cursor }, signal }),
    `${filterKey}|${pages.cursor ?? ""}`,
  );
  const [draft, setDraft] = useState(filter);
  const [draftKey, setDraftKey] = useState(filterKey);
  if (draftKey !== filterKey) {
    setDraftKey(filterKey);
    setDraft(filter);
  }
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [bulkTo, setBulkTo] = useState<OrderStatus | "">("");
  const [busy, setBusy] = useState(false);
  const toast = useToast();
  const [confirm, confirmDialog] = useConfirm();

  const apply = (e: Event) => {
    e.preventDefault();
    setSelected(new Set());
    navigate(href("/orders", { status: draft.status, q: draft.q.trim(), from: draft.from, to: draft.to }));
  };
  const clear = () => {
    setSelected(new Set());
    navigate("/orders");
  };

  const rows = list.data?.data ?? [];
  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  const allOnPage = rows.length > 0 && rows.every((r) => selected.has(r.id));

  const bulkChange = async () => {
    if (!bulkTo) return;
    const chosen = rows.filter((r) => selected.has(r.id));
    if (
      !(await confirm(
        `Change ${chosen.length} selected order(s) to ${bulkTo}? Orders for which this is not allowed are skipped.`,
        `Change to ${bulkTo}`,
      ))
    )
      return;
    setBusy(true);
    let changed = 0;
    const skipped: string[] = [];
    const failed: { id: string; err: unknown }[] = [];
    for (const o of chosen) {
      if (!nextStatuses(o.status).includes(bulkTo)) {
        skipped.push(shortId(o.id));
        continue;
      }
      try {
        await api<Order>(`/api/v1/orders/${o.id}/status`, { method: "PATCH", body: { status: bulkTo, version: o.version } });
        changed++;
      } catch (err) {
        failed.push({ id: shortId(o.id), err });
      }
    }
    setBusy(false);
    setSelected(new Set());
    list.reload();
    if (changed) toast("success", `${changed} order(s) changed to ${bulkTo}.`);
    if (skipped.length) toast("info", `${skipped.length} skipped: ${bulkTo} is not allowed from their status (${skipped.join(", ")}).`);
    for (const f of failed) {
      const { text, requestId } = problemText(f.err);
      const why = f.err instanceof ApiProblem && f.err.code === "version_conflict" ? "changed meanwhile; reload and retry" : text;
      toast("error", `Order ${f.id}: ${why}`, requestId);
    }
  };

  const exportCsv = async () => {
    setBusy(true);
    try {
      const all: Order[] = [];
      let cursor: string | undefined;
      let truncated = false;
      for (let i = 0; ; i++) {
        if (i === EXPORT_MAX_PAGES) {
          truncated = true;
          break;
        }
        const page = await api<OrderList>("/api/v1/orders", { query: { ...apiQuery(filter), limit: 100, cursor } });
        all.push(...page.data);
        if (!page.has_more || !page.next_cursor) break;
        cursor = page.next_cursor;
      }
      const csv = toCsv(
        ["id", "created_at", "status", "customer_email", "currency", "subtotal_cents", "total_cents", "items", "version"],
        all.map((o) => [
          o.id,
          o.created_at,
          o.status,
          o.customer_email ?? "",
          o.currency,
          o.subtotal_cents,
          o.total_cents,
          o.items.map((i) => `${i.sku} x${i.qty}`).join("; "),
          o.version,
        ]),
      );
      download(`orders-${new Date().toISOString().slice(0, 10)}.csv`, csv);
      toast(
        truncated ? "info" : "success",
        `Exported ${all.length} order(s)${truncated ? " (the first 10,000: narrow the filter for the rest)" : ""}.`,
      );
    } catch (err) {
      const { text, requestId } = problemText(err);
      toast("error", `Export failed: ${text}`, requestId);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      <PageTitle
        actions={
          <button type="button" class="secondary" onClick={exportCsv} disabled={busy}>
            Export CSV
          </button>
        }
      >
        Orders
      </PageTitle>
      <form class="filters card" onSubmit={apply} aria-label="Filter orders">
        <Field label="Status">
          {(id) => (
            <select id={id} value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.currentTarget.value })}>
              <option value="">Any status</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Search" hint="Order id, SKU, product name or customer email">
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              type="search"
              value={draft.q}
              onInput={(e) => setDraft({ ...draft, q: e.currentTarget.value })}
            />
          )}
        </Field>
        <Field label="Placed from">
          {(id) => <input id={id} type="date" value={draft.from} onInput={(e) => setDraft({ ...draft, from: e.currentTarget.value })} />}
        </Field>
        <Field label="Placed to">
          {(id) => <input id={id} type="date" value={draft.to} onInput={(e) => setDraft({ ...draft, to: e.currentTarget.value })} />}
        </Field>
        <div class="actions">
          <button type="submit">Apply filters</button>
          <button type="button" class="secondary" onClick={clear}>
            Clear
          </button>
        </div>
      </form>

      <fieldset class="bulk card">
        <legend class="sr-only">Bulk status change</legend>
        <span>{selected.size} selected</span>
        <label for="bulk-status">Change selected to</label>
        <select id="bulk-status" value={bulkTo} onChange={(e) => setBulkTo(e.currentTarget.value as OrderStatus)}>
          <option value="">Choose a status</option>
          {STATUSES.filter((s) => s !== "PENDING").map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <button type="button" disabled={!selected.size || !bulkTo || busy} onClick={bulkChange}>
          Apply to selected
        </button>
      </fieldset>

      <ErrorNote error={list.error} retry={list.reload} />
      {list.loading && !list.data ? <Loading what="Loading orders" /> : null}
      {list.data && rows.length === 0 ? <Empty>No orders match these filters.</Empty> : null}
      {rows.length ? (
        <TableWrap label="Orders">
          <table aria-busy={list.loading}>
            <thead>
              <tr>
                <th scope="col">
                  <input
                    type="checkbox"
                    aria-label="Select every order on this page"
                    checked={allOnPage}
                    onChange={() => setSelected(allOnPage ? new Set() : new Set(rows.map((r) => r.id)))}
                  />
                </th>
                <th scope="col">Order</th>
                <th scope="col">Placed</th>
                <th scope="col">Customer</th>
                <th scope="col">Items</th>
                <th scope="col" class="num">
                  Total
                </th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((o) => (
                <tr key={o.id}>
                  <td>
                    <input
                      type="checkbox"
                      aria-label={`Select order ${shortId(o.id)}`}
                      checked={selected.has(o.id)}
                      onChange={() => toggle(o.id)}
                    />
                  </td>
                  <td>
                    <Link to={`/orders/${o.id}`} class="mono">
                      {shortId(o.id)}
                    </Link>
                  </td>
                  <td>
                    <Time iso={o.created_at} />
                  </td>
                  <td>{o.customer_email ?? "—"}</td>
                  <td>{o.items.reduce((n, i) => n + i.qty, 0)}</td>
                  <td class="num">{money(o.total_cents, o.currency)}</td>
                  <td>
                    <Badge value={o.status} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      <ListPager list={list} pages={pages} />
      {confirmDialog}
    </div>
  );
}
