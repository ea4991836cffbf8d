/** The console's shell: sign-in gate (ADMIN only), navigation, and the page for the current path. */
import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { CustomersPage } from "./pages/customers.tsx";
import { DashboardPage } from "./pages/dashboard.tsx";
import { LoginPage, NotAllowedPage } from "./pages/login.tsx";
import { OrderPage } from "./pages/order.tsx";
import { OrdersPage } from "./pages/orders.tsx";
import { ProductPage } from "./pages/product.tsx";
import { ImportPage } from "./pages/product-import.tsx";
import { ProductsPage } from "./pages/products.tsx";
import { QueuePage } from "./pages/queue.tsx";
import { WebhookPage, WebhooksPage } from "./pages/webhooks.tsx";
import { type Location, useLocation } from "./router.ts";
import { end, onSessionChange, session } from "./session.ts";
import { Link, ToastHost } from "./ui.tsx";

const NAV = [
  { to: "/", label: "Dashboard" },
  { to: "/orders", label: "Orders" },
  { to: "/products", label: "Catalogue" },
  { to: "/customers", label: "Customers" },
  { to: "/queue", label: "Queue" },
  { to: "/webhooks", label: "Webhooks" },
];

type Route = [RegExp, (m: string[], loc: Location) => JSX.Element];
const ROUTES: Route[] = [
  [/^\/$/, () => <DashboardPage />],
  [/^\/orders$/, (_m, loc) => <OrdersPage query={loc.query} />],
  [/^\/orders\/([0-9a-fA-F-]{36})$/, (m) => <OrderPage id={m[1] as string} />],
  [/^\/products$/, (_m, loc) => <ProductsPage query={loc.query} />],
  [/^\/products\/new$/, () => <ProductPage id={null} />],
  [/^\/products\/import$/, () => <ImportPage />],
  [/^\/products\/([0-9a-fA-F-]{36})$/, (m) => <ProductPage id={m[1] as string} />],
  [/^\/customers$/, (_m, loc) => <CustomersPage query={loc.query} />],
  [/^\/queue$/, () => <QueuePage />],
  [/^\/webhooks$/, () => <WebhooksPage />],
  [/^\/webhooks\/([0-9a-fA-F-]{36})$/, (m) => <WebhookPage id={m[1] as string} />],
];

function section(path: string): string {
  const first = `/${path.split("/")[1] ?? ""}`;
  return first === "/" ? "/" : first;
}

function Page({ loc }: { loc: Location }) {
  for (const [re, render] of ROUTES) {
    const m = re.exec(loc.path);
    if (m) return render([...m], loc);
  }
  return (
    <div>
      <h1>Not found</h1>
      <p>
        There is no console page at <code>{loc.path}</code>. <Link to="/">Go to the dashboard</Link>.
      </p>
    </div>
  );
}

export function App() {
  const loc = useLocation();
  const [, setTick] = useState(0);
  useEffect(() => onSessionChange(() => setTick((t) => t + 1)), []);
  const s = session();
  let body: JSX.Element;
  if (!s) body = <LoginPage />;
  else if (s.role !== "ADMIN") body = <NotAllowedPage email={s.email} role={s.role} />;
  else body = <Page key={loc.path} loc={loc} />;
  const here = section(loc.path);
  return (
    <ToastHost>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Toko Admin</span>
        {s?.role === "ADMIN" ? (
          <>
            <nav aria-label="Main">
              <ul>
                {NAV.map((n) => (
                  <li key={n.to}>
                    <Link to={n.to} aria-current={here === n.to ? "page" : undefined}>
                      {n.label}
                    </Link>
                  </li>
                ))}
              </ul>
            </nav>
            <div class="who">
              <span class="muted">{s.email}</span>
              <button type="button" class="secondary small" onClick={() => end("You signed out.")}>
                Sign out
              </button>
            </div>
          </>
        ) : null}
      </header>
      <main id="main" tabIndex={-1}>
        {body}
      </main>
      <footer class="foot muted">
        Times are in your browser's time zone (hover for UTC). <a href="/docs">API reference</a>
      </footer>
    </ToastHost>
  );
}
