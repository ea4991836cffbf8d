/**
 * SSRF: a webhook URL must not make the worker call anything but a public address — at registration
 * and again before every attempt (DNS can change), never following a redirect. Hostile DNS answers
 * come from the stub DoH resolver (WEBHOOK_DOH_URL points at it in tests).
 */
import { env } from "cloudflare:workers";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { assertPublicUrl, blockedReason, clearDnsCache, parseIp, UrlRefusedError } from "../src/lib/ssrf.ts";
import { apiSettled, createUser, expectProblem, jsonInit, sql } from "./helpers.ts";
import { answers, captureQueue, deliveryRow, deliveryState, endpointRow, runQueue, type Stub, stubNetwork } from "./outbound-helpers.ts";

const admin = await createUser("ADMIN");
const created: string[] = [];
let net: Stub;

beforeEach(() => {
  net = stubNetwork();
  clearDnsCache();
  // Hostile names (a public control answers from 93.184.216.34).
  const dns: [string, { A?: string[]; AAAA?: string[]; status?: number }][] = [
    ["public.hooks.test", { A: ["93.184.216.34"], AAAA: ["2606:2800:220:1:248:1893:25c8:1946"] }],
    ["rebind.attacker.test", { A: ["127.0.0.1"] }],
    ["metadata.attacker.test", { A: ["169.254.169.254"] }],
    ["mixed.attacker.test", { A: ["93.184.216.34", "10.1.2.3"] }],
    ["loopback6.attacker.test", { AAAA: ["::1"] }],
    ["mapped6.attacker.test", { A: ["93.184.216.34"], AAAA: ["::ffff:192.168.0.10"] }],
    ["cgnat.attacker.test", { A: ["100.100.100.100"] }],
    ["ula.attacker.test", { AAAA: ["fd00:ec2::254"] }],
    ["servfail.attacker.test", { status: 2 }],
  ];
  for (const [name, rec] of dns) net.dns.set(name, rec);
});

afterEach(() => vi.restoreAllMocks());

afterAll(async () => {
  if (created.length) await sql("DELETE FROM webhook_endpoints WHERE id = ANY($1::uuid[])", [created]);
});

function register(url: string, bindings: Env = env) {
  return apiSettled(
    "/api/v1/admin/webhook-endpoints",
    jsonInit("POST", { url, events: ["order.created"], enabled: false }, admin.auth),
    bindings,
  );
}

/** ≥ 25 hostile URLs: every form the issue names, each refused at registration with a reason, and nothing stored. */
const HOSTILE: [string, RegExp][] = [
  ["https://127.0.0.1/hook", /loopback/],
  ["https://localhost/hook", /loopback name/],
  ["https://api.localhost/hook", /loopback name/],
  ["https://10.0.0.5/hook", /private/],
  ["https://172.16.3.4/hook", /private/],
  ["https://192.168.1.1/hook", /private/],
  ["https://169.254.169.254/latest/meta-data/", /metadata/],
  ["https://169.254.10.10/hook", /link-local/],
  ["https://100.64.0.1/hook", /carrier-grade NAT/],
  ["https://0.0.0.0/hook", /this-network/],
  ["https://224.0.0.1/hook", /multicast/],
  ["https://255.255.255.255/hook", /reserved/],
  ["https://2130706433/hook", /loopback/], // decimal 127.0.0.1
  ["https://0x7f000001/hook", /loopback/], // hex
  ["https://0x7f.0.0.1/hook", /loopback/], // hex first octet
  ["https://0177.0.0.1/hook", /loopback/], // octal
  ["https://017700000001/hook", /loopback/], // octal, one number
  ["https://127.1/hook", /loopback/], // short form
  ["https://[::1]/hook", /loopback/],
  ["https://[::ffff:127.0.0.1]/hook", /IPv4-mapped.*loopback/],
  ["https://[::ffff:7f00:1]/hook", /IPv4-mapped.*loopback/],
  ["https://[::ffff:169.254.169.254]/hook", /IPv4-mapped.*metadata/],
  ["https://[::127.0.0.1]/hook", /IPv4-compatible/],
  ["https://[fd00:ec2::254]/latest/meta-data/", /metadata/],
  ["https://[fe80::1]/hook", /link-local/],
  ["https://[fc00::1]/hook", /unique local/],
  ["https://[ff02::1]/hook", /multicast/],
  ["https://[::]/hook", /unspecified/],
  ["https://[64:ff9b::7f00:1]/hook", /NAT64/],
  ["https://[2002:7f00:1::1]/hook", /6to4/],
  ["https://[2001:db8::1]/hook", /documentation/],
  ["https://rebind.attacker.test/hook", /resolves to 127\.0\.0\.1.*loopback/],
  ["https://metadata.attacker.test/hook", /resolves to 169\.254\.169\.254.*metadata/],
  ["https://mixed.attacker.test/hook", /resolves to 10\.1\.2\.3.*private/],
  ["https://loopback6.attacker.test/hook", /resolves to ::1.*loopback/],
  ["https://mapped6.attacker.test/hook", /IPv4-mapped.*private/],
  ["https://cgnat.attacker.test/hook", /carrier-grade NAT/],
  ["https://ula.attacker.test/hook", /metadata/],
  ["https://nxdomain.attacker.test/hook", /does not resolve/],
  ["https://intranet/hook", /fully qualified/],
  ["https://printer.local/hook", /private-use/],
  ["https://db.internal/hook", /private-use/],
  ["https://user:secret@public.hooks.test/hook", /credentials/],
  ["ftp://public.hooks.test/hook", /only http and https/],
  ["file:///etc/passwd", /only http and https/],
];

describe("SSRF: hostile webhook URLs are refused at registration", () => {
  it("the table is as long as the issue asks (≥ 25)", () => expect(HOSTILE.length).toBeGreaterThanOrEqual(25));

  it.each(HOSTILE)("%s → 422 url_not_allowed", async (url, why) => {
    const p = await expectProblem(await register(url), 422, "url_not_allowed");
    expect(String(p.reason)).toMatch(why);
    expect(await sql("SELECT 1 FROM webhook_endpoints WHERE url = $1", [url])).toHaveLength(0);
  });

  it("controls: a public name, a public IPv4 and a public IPv6 literal are accepted", async () => {
    for (const url of ["https://public.hooks.test/hook", "https://93.184.216.34/hook", "https://[2606:4700:4700::1111]/hook"]) {
      const res = await register(url);
      expect(res.status, url).toBe(201);
      created.push(((await res.json()) as { id: string }).id);
    }
    // The name was resolved for both record types.
    expect(net.dnsQueries).toEqual(expect.arrayContaining(["public.hooks.test/A", "public.hooks.test/AAAA"]));
  });

  it("a resolver that fails is a 503 (retry), not an acceptance", async () => {
    const res = await register("https://servfail.attacker.test/hook");
    await expectProblem(res, 503, "dns_unavailable");
    expect(res.headers.get("retry-after")).toBe("5");
  });

  it("changing the URL of an endpoint is checked the same way", async () => {
    const res = await register("https://public.hooks.test/patched");
    const { id } = (await res.json()) as { id: string };
    created.push(id);
    const patch = await apiSettled(
      `/api/v1/admin/webhook-endpoints/${id}`,
      jsonInit("PATCH", { url: "https://[::ffff:127.0.0.1]/x" }, admin.auth),
    );
    await expectProblem(patch, 422, "url_not_allowed");
    const [row] = await sql<{ url: string }>("SELECT url FROM webhook_endpoints WHERE id = $1", [id]);
    expect(row?.url).toBe("https://public.hooks.test/patched");
  });
});

describe("SSRF: the URL rules themselves", () => {
  const dev = { allowHttp: true, allowLoopback: true };
  const prod = { allowHttp: false, allowLoopback: false };
  const dns = { dohUrl: "https://doh.stub/dns-query", timeoutMs: 1000 };

  it("only https in production; http only where allowed", async () => {
    await expect(assertPublicUrl("http://public.hooks.test/hook", prod, dns)).rejects.toThrow(/only https/);
    await expect(assertPublicUrl("http://public.hooks.test/hook", { ...prod, allowHttp: true }, dns)).resolves.toBeInstanceOf(URL);
  });

  it("the development loopback flag opens loopback only — never private, metadata or mapped-private addresses", async () => {
    for (const url of ["http://127.0.0.1:8787/hook", "http://localhost:9000/hook", "http://[::1]:9000/", "http://[::ffff:127.0.0.1]/"]) {
      await expect(assertPublicUrl(url, dev, dns), url).resolves.toBeInstanceOf(URL);
      await expect(assertPublicUrl(url, prod, dns), url).rejects.toBeInstanceOf(UrlRefusedError);
    }
    for (const url of ["http://10.0.0.1/", "http://169.254.169.254/", "http://[::ffff:10.0.0.1]/", "https://metadata.attacker.test/"]) {
      await expect(assertPublicUrl(url, dev, dns), url).rejects.toBeInstanceOf(UrlRefusedError);
    }
  });

  it("classifies addresses (the table's corners)", () => {
    const reason = (s: string) => blockedReason(parseIp(s) as NonNullable<ReturnType<typeof parseIp>>);
    expect(reason("8.8.8.8")).toBeNull();
    expect(reason("172.15.255.255")).toBeNull(); // just below 172.16.0.0/12
    expect(reason("172.32.0.0")).toBeNull(); // just above
    expect(reason("100.63.255.255")).toBeNull(); // just below CGNAT
    expect(reason("100.128.0.0")).toBeNull(); // just above
    expect(reason("2606:4700:4700::1111")).toBeNull();
    expect(reason("172.31.255.255")).toMatch(/private/);
    expect(reason("100.127.255.255")).toMatch(/carrier-grade/);
    expect(reason("::ffff:8.8.8.8")).toMatch(/IPv4-mapped/); // mapped forms are never needed: refused outright
    expect(parseIp("1.2.3")).toBeNull();
    expect(parseIp("[1::2::3]")).toBeNull();
    expect(parseIp("256.1.1.1")).toBeNull();
  });

  it("production refuses the loopback flag (a 503 naming it, like every bad setting)", async () => {
    const PROD = {
      ENVIRONMENT: "production",
      PAYMENT_PROVIDER: "stripe",
      STRIPE_SECRET_KEY: "sk_live_51Hx0123456789abcdefghijklmnopqrstuvwxyz",
      STRIPE_WEBHOOK_SECRETS: "whsec_0123456789abcdefghijklmnopqrstuv",
      SANDBOX_WEBHOOK_SECRETS: "",
      // Production refuses the sandbox carrier (docs/shipping.md).
      SHIPPING_CARRIER: "fedex",
      FEDEX_CLIENT_ID: "l7xx0123456789abcdef",
      FEDEX_CLIENT_SECRET: "fedex-secret-0123456789abcdef",
      FEDEX_ACCOUNT_NUMBER: "740561073",
      SHIPPING_ORIGIN_POSTAL_CODE: "38125",
    };
    vi.spyOn(console, "error").mockImplementation(() => {});
    expect((await apiSettled("/health/live", undefined, { ...env, ...PROD } as unknown as Env)).status).toBe(200);
    const refused = await apiSettled("/health/live", undefined, { ...env, ...PROD, WEBHOOK_ALLOW_LOOPBACK: "true" } as unknown as Env);
    const p = await expectProblem(refused, 503, "service_unavailable");
    expect(p.invalid_settings).toEqual(["WEBHOOK_ALLOW_LOOPBACK"]);
    const staging = await apiSettled("/health/live", undefined, {
      ...env,
      ENVIRONMENT: "staging",
      WEBHOOK_ALLOW_LOOPBACK: "true",
    } as unknown as Env);
    expect((await expectProblem(staging, 503)).invalid_settings).toContain("WEBHOOK_ALLOW_LOOPBACK");
    // Development may set it.
    expect(
      (
        await apiSettled("/health/live", undefined, {
          ...env,
          ENVIRONMENT: "development",
          WEBHOOK_ALLOW_LOOPBACK: "true",
        } as unknown as Env)
      ).status,
    ).toBe(200);
  });
});

describe("SSRF at delivery time", () => {
  const deliver = (deliveryId: string, queue = captureQueue()) =>
    runQueue("toko-webhook-deliveries", [{ kind: "webhook-delivery", delivery_id: deliveryId }], {
      ...env,
      WEBHOOK_DELIVERIES: queue,
    } as unknown as Env);

  it("a name that resolved publicly at registration but points at loopback now (DNS rebinding) is not called", async () => {
    net.dns.set("flip.attacker.test", { A: ["93.184.216.34"], ttl: 0 });
    const res = await register("https://flip.attacker.test/hook");
    expect(res.status).toBe(201);
    created.push(((await res.json()) as { id: string }).id);
    // Registered: now the attacker's DNS answers 127.0.0.1.
    net.dns.set("flip.attacker.test", { A: ["127.0.0.1"], ttl: 0 });
    const ep = await endpointRow("https://flip.attacker.test/hook");
    net.routes.set("https://flip.attacker.test/", answers(200));
    const id = await deliveryRow(ep.id);
    await deliver(id);
    expect(net.received).toHaveLength(0);
    const state = await deliveryState(id);
    expect(state).toMatchObject({ status: "PENDING", attempts: 1, last_status: null });
    expect(state?.last_error).toMatch(/refused: the host resolves to 127\.0\.0\.1/);
    await sql("DELETE FROM webhook_endpoints WHERE id = $1", [ep.id]);
  });

  it("redirects are never followed: a 302 to the metadata address is a failed attempt, and only the receiver was called", async () => {
    net.dns.set("redirector.hooks.test", { A: ["93.184.216.34"] });
    const ep = await endpointRow("https://redirector.hooks.test/hook");
    net.routes.set("https://redirector.hooks.test/", answers([302, { location: "http://169.254.169.254/latest/meta-data/" }]));
    net.routes.set("http://169.254.169.254/", answers(200));
    const id = await deliveryRow(ep.id);
    await deliver(id);
    expect(net.received.map((r) => new URL(r.url).host)).toEqual(["redirector.hooks.test"]);
    expect(net.received[0]?.redirect).toBe("manual");
    expect(await deliveryState(id)).toMatchObject({
      status: "PENDING",
      attempts: 1,
      last_status: 302,
      last_error: "redirect (302) not followed",
    });
    await sql("DELETE FROM webhook_endpoints WHERE id = $1", [ep.id]);
  });
});
