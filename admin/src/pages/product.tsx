/**
 * A product: create or edit (problem+json field errors shown next to their fields), stock adjustment
 * with a reason (sent with an Idempotency-Key) and the product's stock history, archive and restore.
 */
import { useState } from "preact/hooks";
import { api, fieldErrors } from "../api.ts";
import { moneyInput, parseMoney } from "../format.ts";
import { navigate } from "../router.ts";
import type { Product, StockAdjustmentPage } from "../types.ts";
import {
  Badge,
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
import { useCategories } from "./products.tsx";

interface Form {
  sku: string;
  name: string;
  slug: string;
  description: string;
  price: string;
  currency: string;
  category_id: string;
  status: "active" | "archived";
  stock: string;
}

const fromProduct = (p: Product): Form => ({
  sku: p.sku,
  name: p.name,
  slug: p.slug,
  description: p.description,
  price: moneyInput(p.price_cents, p.currency),
  currency: p.currency,
  category_id: p.category?.id ?? "",
  status: p.status,
  stock: String(p.stock),
});

const EMPTY: Form = {
  sku: "",
  name: "",
  slug: "",
  description: "",
  price: "",
  currency: "USD",
  category_id: "",
  status: "active",
  stock: "0",
};

export function ProductPage({ id }: { id: string | null }) {
  const product = useResource(
    (signal) => (id ? api<Product>(`/api/v1/admin/products/${id}`, { signal }) : Promise.resolve(null)),
    id ?? "new",
  );
  const p = product.data ?? null;
  if (id && product.error && !p) {
    return (
      <div>
        <PageTitle>Product</PageTitle>
        <ErrorNote error={product.error} retry={product.reload} />
      </div>
    );
  }
  if (id && !p) return <Loading what="Loading the product" />;
  return <ProductEditor key={p?.updated_at ?? "new"} product={p} onSaved={(x) => product.set(x)} />;
}

function ProductEditor({ product, onSaved }: { product: Product | null; onSaved: (p: Product) => void }) {
  const categories = useCategories();
  const [form, setForm] = useState<Form>(product ? fromProduct(product) : EMPTY);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const toast = useToast();
  const [confirm, confirmDialog] = useConfirm();
  const set = (k: keyof Form) => (e: { currentTarget: { value: string } }) => setForm({ ...form, [k]: e.currentTarget.value });

  const save = async (e: Event) => {
    e.preventDefault();
    setError(null);
    const price = parseMoney(form.price, form.currency || "USD");
    if (price === null) {
      setErrors({ price_cents: `must be an amount in ${form.currency || "the currency"}, e.g. 19.99` });
      return;
    }
    const full: Record<string, unknown> = {
      sku: form.sku.trim(),
      name: form.name,
      description: form.description,
      price_cents: price,
      currency: form.currency.trim(),
      category_id: form.category_id || null,
      status: form.status,
    };
    if (form.slug.trim() || product) full.slug = form.slug.trim();
    let body = full;
    if (product) {
      // Only what changed (PATCH); stock changes only through adjustments.
      const before: Record<string, unknown> = {
        ...fromProduct(product),
        price_cents: product.price_cents,
        category_id: product.category?.id ?? null,
      };
      body = Object.fromEntries(Object.entries(full).filter(([k, v]) => before[k] !== v));
      if (!Object.keys(body).length) {
        toast("info", "Nothing to save: no field changed.");
        return;
      }
    } else {
      full.stock = Number(form.stock || "0");
    }
    setBusy(true);
    setErrors({});
    try {
      const saved = product
        ? await api<Product>(`/api/v1/admin/products/${product.id}`, { method: "PATCH", body })
        : await api<Product>("/api/v1/admin/products", { method: "POST", body: full });
      toast("success", `Saved ${saved.sku}.`);
      if (product) onSaved(saved);
      else navigate(`/products/${saved.id}`, { replace: true });
    } catch (err) {
      const fe = fieldErrors(err);
      setErrors(fe);
      setError(err);
      const { text, requestId } = problemText(err);
      toast("error", `Not saved: ${text}`, requestId);
    } finally {
      setBusy(false);
    }
  };

  const archive = async (to: "archived" | "active") => {
    if (!product) return;
    if (to === "archived" && !(await confirm(`Archive ${product.sku}? It leaves the storefront at once.`, "Archive"))) return;
    setBusy(true);
    try {
      const saved =
        to === "archived"
          ? await api<Product>(`/api/v1/admin/products/${product.id}/archive`, { method: "POST" })
          : await api<Product>(`/api/v1/admin/products/${product.id}`, { method: "PATCH", body: { status: "active" } });
      onSaved(saved);
      toast("success", to === "archived" ? `${saved.sku} archived.` : `${saved.sku} is active again.`);
    } catch (err) {
      const { text, requestId } = problemText(err);
      toast("error", text, requestId);
    } finally {
      setBusy(false);
    }
  };

  const ferr = (k: string) => errors[k];
  return (
    <div>
      <p class="crumbs">
        <Link to="/products">Catalogue</Link> / {product ? <span class="mono">{product.sku}</span> : "New product"}
      </p>
      <PageTitle>{product ? <>Edit {product.name}</> : "New product"}</PageTitle>
      {product ? (
        <p class="muted">
          <Badge value={product.status} /> Stock {product.stock} · updated <Time iso={product.updated_at} />
        </p>
      ) : null}
      <div class="grid wide-first">
        <form class="card" onSubmit={save} noValidate aria-label="Product">
          <div class="row">
            <Field label="SKU" error={ferr("sku")}>
              {(id, d) => (
                <input id={id} aria-describedby={d} aria-invalid={!!ferr("sku")} required value={form.sku} onInput={set("sku")} />
              )}
            </Field>
            <Field label="Slug" error={ferr("slug")} hint={product ? undefined : "Leave empty to derive it from the name and SKU"}>
              {(id, d) => <input id={id} aria-describedby={d} aria-invalid={!!ferr("slug")} value={form.slug} onInput={set("slug")} />}
            </Field>
          </div>
          <Field label="Name" error={ferr("name")}>
            {(id, d) => (
              <input id={id} aria-describedby={d} aria-invalid={!!ferr("name")} required value={form.name} onInput={set("name")} />
            )}
          </Field>
          <Field label="Description" error={ferr("description")}>
            {(id, d) => (
              <textarea
                id={id}
                aria-describedby={d}
                aria-invalid={!!ferr("description")}
                rows={4}
                value={form.description}
                onInput={set("description")}
              />
            )}
          </Field>
          <div class="row">
            <Field label="Price" error={ferr("price_cents")} hint="In the currency's units, e.g. 19.99">
              {(id, d) => (
                <input
                  id={id}
                  aria-describedby={d}
                  aria-invalid={!!ferr("price_cents")}
                  inputMode="decimal"
                  required
                  value={form.price}
                  onInput={set("price")}
                />
              )}
            </Field>
            <Field label="Currency" error={ferr("currency")} hint="ISO 4217, e.g. USD">
              {(id, d) => (
                <input
                  id={id}
                  aria-describedby={d}
                  aria-invalid={!!ferr("currency")}
                  maxLength={3}
                  required
                  value={form.currency}
                  onInput={set("currency")}
                />
              )}
            </Field>
          </div>
          <div class="row">
            <Field label="Category" error={ferr("category_id")}>
              {(id, d) => (
                <select id={id} aria-describedby={d} value={form.category_id} onChange={set("category_id")}>
                  <option value="">No category</option>
                  {(categories.data?.data ?? []).map((c) => (
                    <option key={c.id} value={c.id}>
                      {c.name}
                    </option>
                  ))}
                </select>
              )}
            </Field>
            <Field label="Status" error={ferr("status")}>
              {(id, d) => (
                <select id={id} aria-describedby={d} value={form.status} onChange={set("status")}>
                  <option value="active">Active</option>
                  <option value="archived">Archived</option>
                </select>
              )}
            </Field>
            {product ? null : (
              <Field label="Initial stock" error={ferr("stock")}>
                {(id, d) => <input id={id} aria-describedby={d} type="number" min={0} value={form.stock} onInput={set("stock")} />}
              </Field>
            )}
          </div>
          <ErrorNote error={error} />
          <div class="actions">
            <button type="submit" disabled={busy}>
              {product ? "Save changes" : "Create product"}
            </button>
            {product?.status === "active" ? (
              <button type="button" class="danger" disabled={busy} onClick={() => archive("archived")}>
                Archive
              </button>
            ) : null}
            {product?.status === "archived" ? (
              <button type="button" class="secondary" disabled={busy} onClick={() => archive("active")}>
                Restore
              </button>
            ) : null}
          </div>
        </form>
        {product ? <StockForm product={product} onSaved={onSaved} /> : null}
      </div>
      {confirmDialog}
    </div>
  );
}

function StockForm({ product, onSaved }: { product: Product; onSaved: (p: Product) => void }) {
  const [delta, setDelta] = useState("");
  const [reason, setReason] = useState("");
  // One Idempotency-Key per intended adjustment: a second click or a retry after a lost answer sends the
  // same key and the API applies the delta once (the stock ledger keeps the key). A new intent, a new key.
  const [key, setKey] = useState(() => crypto.randomUUID());
  const intend = (set: (v: string) => void) => (e: { currentTarget: HTMLInputElement }) => {
    set(e.currentTarget.value);
    setKey(crypto.randomUUID());
  };
  const history = useResource(
    (signal) => api<StockAdjustmentPage>(`/api/v1/admin/products/${product.id}/stock-adjustments`, { query: { limit: 10 }, signal }),
    `${product.id}:${product.stock}`,
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const toast = useToast();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors({});
    setError(null);
    try {
      const saved = await api<Product>(`/api/v1/admin/products/${product.id}/stock-adjustments`, {
        method: "POST",
        body: { delta: Number(delta), reason: reason.trim() },
        idempotencyKey: key,
      });
      toast("success", `Stock of ${saved.sku} is now ${saved.stock}.`);
      setKey(crypto.randomUUID());
      onSaved(saved);
    } catch (err) {
      setErrors(fieldErrors(err));
      setError(err);
      const { text, requestId } = problemText(err);
      toast("error", `Stock not changed: ${text}`, requestId);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card" onSubmit={submit} aria-label="Adjust stock">
      <h2>Adjust stock</h2>
      <p>
        Current stock: <strong>{product.stock}</strong>
      </p>
      <Field label="Change" error={errors.delta} hint="Positive to add, negative to remove (never below zero)">
        {(id, d) => <input id={id} aria-describedby={d} type="number" step={1} required value={delta} onInput={intend(setDelta)} />}
      </Field>
      <Field label="Reason" error={errors.reason} hint="e.g. delivery received, damaged, stock count">
        {(id, d) => <input id={id} aria-describedby={d} required maxLength={200} value={reason} onInput={intend(setReason)} />}
      </Field>
      {Object.keys(errors).length ? null : <ErrorNote error={error} />}
      <button type="submit" disabled={busy}>
        Apply
      </button>
      <h3>Stock history</h3>
      {history.data?.data.length ? (
        <TableWrap label="Stock history">
          <table class="stock-history">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Change</th>
                <th scope="col">Stock after</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {history.data.data.map((a) => (
                <tr key={a.id}>
                  <td>
                    <Time iso={a.created_at} />
                  </td>
                  <td class="num">{a.delta > 0 ? `+${a.delta}` : a.delta}</td>
                  <td class="num">{a.stock_after}</td>
                  <td>{a.reason ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : history.error ? (
        <ErrorNote error={history.error} retry={history.reload} />
      ) : history.loading ? (
        <Loading what="Loading the stock history" />
      ) : (
        <Empty>No adjustments yet.</Empty>
      )}
    </form>
  );
}
