/** Catalogue: every product (archived too), search, category and status filters, cursor paging. */
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { money } from "../format.ts";
import { href, navigate } from "../router.ts";
import type { Category, ProductList } from "../types.ts";
import { Badge, Empty, ErrorNote, Field, Link, ListPager, Loading, PageTitle, TableWrap, useCursor, useResource } from "../ui.tsx";

export function useCategories() {
  return useResource((signal) => api<{ data: Category[] }>("/api/v1/categories", { signal }), "categories");
}

export function ProductsPage({ query }: { query: URLSearchParams }) {
  const filter = { q: query.get("q") ?? "", category: query.get("category") ?? "", status: query.get("status") ?? "active" };
  const key = JSON.stringify(filter);
  const pages = useCursor(key);
  const categories = useCategories();
  const list = useResource(
    (signal) =>
      api<ProductList>("/api/v1/admin/products", {
        query: {
          q: filter.q.trim() || undefined,
          category_id: filter.category || undefined,
          status: filter.status === "all" ? undefined : filter.status,
          limit: 25,
          cursor: pages.cursor,
        },
        signal,
      }),
    `${key}|${pages.cursor ?? ""}`,
  );
  const [draft, setDraft] = useState(filter);
  const [draftKey, setDraftKey] = useState(key);
  if (draftKey !== key) {
    setDraftKey(key);
    setDraft(filter);
  }
  const apply = (e: Event) => {
    e.preventDefault();
    navigate(href("/products", { q: draft.q.trim(), category: draft.category, status: draft.status === "active" ? "" : draft.status }));
  };
  const rows = list.data?.data ?? [];
  return (
    <div>
      <PageTitle
        actions={
          <>
            <Link to="/products/import" class="button secondary">
              Import CSV
            </Link>
            <Link to="/products/new" class="button">
              New product
            </Link>
          </>
        }
      >
        Catalogue
      </PageTitle>
      <form class="filters card" onSubmit={apply} aria-label="Filter products">
        <Field label="Search" hint="Name, SKU or slug">
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
        <Field label="Category">
          {(id) => (
            <select id={id} value={draft.category} onChange={(e) => setDraft({ ...draft, category: e.currentTarget.value })}>
              <option value="">Any category</option>
              {(categories.data?.data ?? []).map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Status">
          {(id) => (
            <select id={id} value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.currentTarget.value })}>
              <option value="active">Active</option>
              <option value="archived">Archived</option>
              <option value="all">Active and archived</option>
            </select>
          )}
        </Field>
        <div class="actions">
          <button type="submit">Apply filters</button>
        </div>
      </form>
      <ErrorNote error={list.error} retry={list.reload} />
      {list.loading && !list.data ? <Loading what="Loading products" /> : null}
      {list.data && !rows.length ? <Empty>No products match these filters.</Empty> : null}
      {rows.length ? (
        <TableWrap label="Products">
          <table aria-busy={list.loading}>
            <thead>
              <tr>
                <th scope="col">SKU</th>
                <th scope="col">Name</th>
                <th scope="col">Category</th>
                <th scope="col" class="num">
                  Price
                </th>
                <th scope="col" class="num">
                  Stock
                </th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((p) => (
                <tr key={p.id}>
                  <td class="mono">
                    <Link to={`/products/${p.id}`}>{p.sku}</Link>
                  </td>
                  <td>{p.name}</td>
                  <td>{p.category?.name ?? "—"}</td>
                  <td class="num">{money(p.price_cents, p.currency)}</td>
                  <td class="num">{p.stock}</td>
                  <td>
                    <Badge value={p.status} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      <ListPager list={list} pages={pages} />
    </div>
  );
}
