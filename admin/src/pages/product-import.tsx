/**
 * CSV import: a file with a header row is parsed here, each line checked, then sent as one
 * all-or-nothing import. Errors name the CSV line: from this parser, or from the API's problem+json
 * (`products.N.field` → line N + 2, counting the header).
 */
import { useState } from "preact/hooks";
import { api, fieldErrors } from "../api.ts";
import { parseCsv } from "../csv.ts";
import { parseMoney } from "../format.ts";
import type { Category } from "../types.ts";
import { download, ErrorNote, Field, Link, PageTitle, problemText, TableWrap, useToast } from "../ui.tsx";
import { useCategories } from "./products.tsx";

const COLUMNS = ["sku", "name", "slug", "description", "price", "currency", "category", "stock", "status"] as const;
const REQUIRED = ["sku", "name", "price", "currency"];
const TEMPLATE =
  "sku,name,slug,description,price,currency,category,stock,status\r\nTOKO-NEW-0001,Desk lamp,,Warm light,24.90,USD,,10,active\r\n";

interface LineError {
  line: number;
  field: string;
  message: string;
}

type Parsed = { products: Record<string, unknown>[]; errors: LineError[] };

function toProducts(text: string, categories: Category[]): Parsed {
  const rows = parseCsv(text);
  const errors: LineError[] = [];
  const header = (rows[0] ?? []).map((h) => h.trim().toLowerCase());
  for (const r of REQUIRED) if (!header.includes(r)) errors.push({ line: 1, field: r, message: "column missing from the header row" });
  for (const h of header) if (!(COLUMNS as readonly string[]).includes(h)) errors.push({ line: 1, field: h, message: "unknown column" });
  if (errors.length) return { products: [], errors };
  const bySlugOrId = new Map<string, string>();
  for (const c of categories) {
    bySlugOrId.set(c.slug, c.id);
    bySlugOrId.set(c.id, c.id);
  }
  const products = rows.slice(1).map((cells, i) => {
    const line = i + 2;
    if (cells.length !== header.length)
      errors.push({ line, field: "(line)", message: `${cells.length} cells, the header has ${header.length}` });
    const v = Object.fromEntries(header.map((h, j) => [h, (cells[j] ?? "").trim()]));
    const p: Record<string, unknown> = { sku: v.sku, name: v.name, currency: v.currency };
    const price = parseMoney(v.price ?? "", v.currency || "USD");
    if (price === null) errors.push({ line, field: "price", message: `"${v.price}" is not an amount` });
    else p.price_cents = price;
    if (v.slug) p.slug = v.slug;
    if (v.description) p.description = v.description;
    if (v.status) p.status = v.status;
    if (v.stock) {
      if (!/^\d+$/.test(v.stock)) errors.push({ line, field: "stock", message: `"${v.stock}" is not a whole number` });
      else p.stock = Number(v.stock);
    }
    if (v.category) {
      const id = bySlugOrId.get(v.category.toLowerCase());
      if (!id) errors.push({ line, field: "category", message: `no category "${v.category}" (use its slug or id)` });
      else p.category_id = id;
    }
    return p;
  });
  if (!products.length) errors.push({ line: 2, field: "(file)", message: "no product lines after the header" });
  if (products.length > 1000) errors.push({ line: 1002, field: "(file)", message: "at most 1,000 products per import" });
  return { products, errors };
}

export function ImportPage() {
  const categories = useCategories();
  const [name, setName] = useState("");
  const [parsed, setParsed] = useState<Parsed | null>(null);
  const [apiErrors, setApiErrors] = useState<LineError[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const toast = useToast();

  const onFile = async (e: Event) => {
    const file = (e.currentTarget as HTMLInputElement).files?.[0];
    setApiErrors([]);
    setError(null);
    if (!file) return setParsed(null);
    setName(file.name);
    setParsed(toProducts(await file.text(), categories.data?.data ?? []));
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!parsed || parsed.errors.length) return;
    setBusy(true);
    setApiErrors([]);
    setError(null);
    try {
      const res = await api<{ imported: number }>("/api/v1/admin/products/import", { method: "POST", body: { products: parsed.products } });
      toast("success", `Imported ${res.imported} product(s).`);
      setParsed(null);
      setName("");
    } catch (err) {
      const fe = fieldErrors(err, "products.");
      const lines = Object.entries(fe).map(([path, message]) => {
        const [index = "0", ...rest] = path.split(".");
        const field = rest.join(".") === "price_cents" ? "price" : rest.join(".") === "category_id" ? "category" : rest.join(".");
        return { line: Number(index) + 2, field, message };
      });
      setApiErrors(lines.sort((a, b) => a.line - b.line));
      setError(err);
      const { text, requestId } = problemText(err);
      toast("error", `Nothing was imported: ${text}`, requestId);
    } finally {
      setBusy(false);
    }
  };

  const lineErrors = [...(parsed?.errors ?? []), ...apiErrors];
  return (
    <div>
      <p class="crumbs">
        <Link to="/products">Catalogue</Link> / Import
      </p>
      <PageTitle>Import products from CSV</PageTitle>
      <p>
        One product per line after a header row with the columns <code>{COLUMNS.join(", ")}</code> (required: {REQUIRED.join(", ")}).
        <code>category</code> is a category slug or id. Up to 1,000 lines; all or nothing.{" "}
        <button type="button" class="link" onClick={() => download("products-template.csv", TEMPLATE)}>
          Download a template
        </button>
      </p>
      <form class="card" onSubmit={submit} aria-label="Import products">
        <Field label="CSV file" hint={name ? `Chosen: ${name}` : undefined}>
          {(id, d) => <input id={id} aria-describedby={d} type="file" accept=".csv,text/csv" onChange={onFile} />}
        </Field>
        {parsed && !parsed.errors.length ? <p role="status">{parsed.products.length} product line(s) ready to import.</p> : null}
        <button type="submit" disabled={!parsed || parsed.errors.length > 0 || busy}>
          Import
        </button>
      </form>
      {lineErrors.length ? (
        <section class="card" aria-labelledby="import-errors-h">
          <h2 id="import-errors-h">{lineErrors.length} problem(s): nothing was imported</h2>
          <TableWrap label="Import errors by line">
            <table class="line-errors">
              <thead>
                <tr>
                  <th scope="col">Line</th>
                  <th scope="col">Column</th>
                  <th scope="col">Problem</th>
                </tr>
              </thead>
              <tbody>
                {lineErrors.map((e) => (
                  <tr key={`${e.line}-${e.field}-${e.message}`}>
                    <td>{e.line}</td>
                    <td>
                      <code>{e.field}</code>
                    </td>
                    <td>{e.message}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        </section>
      ) : (
        <ErrorNote error={error} />
      )}
    </div>
  );
}
