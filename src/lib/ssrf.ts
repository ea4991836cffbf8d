/**
 * SSRF protection for URLs that staff register and the worker then calls (outbound webhooks).
 * A URL is allowed only if it is https (http only where the caller allows it), carries no
 * credentials, and its host — an IP literal, or every A/AAAA record of its name as resolved by
 * DNS over HTTPS — is a public unicast address. Refused: private, loopback, link-local (and the
 * 169.254.169.254 metadata address), CGNAT, multicast, reserved, documentation, benchmarking, ULA
 * (fd00:ec2::254), NAT64 and 6to4, and IPv4-mapped/compatible IPv6 forms of any of them. The WHATWG URL
 * parser already turns decimal, hex and octal IPv4 forms (2130706433, 0x7f.1, 0177.0.0.1) into
 * dotted quads, so they are caught as the address they are. The check runs at registration and
 * before every attempt (DNS can change); redirects are never followed by the caller.
 */
import { withTimeout } from "./timeout.ts";

export class UrlRefusedError extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(reason);
    this.name = "UrlRefusedError";
    this.reason = reason;
  }
}

/** The resolver did not answer usably (unreachable, SERVFAIL, garbage): nothing is known about the host. */
export class DnsUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DnsUnavailableError";
  }
}

export interface UrlPolicy {
  /** Accept plain http (local development and tests only). */
  allowHttp: boolean;
  /** Accept loopback hosts (127.0.0.0/8, ::1, localhost): the explicit development flag. */
  allowLoopback: boolean;
}

export type Ip = { v: 4; bytes: number[] } | { v: 6; bytes: number[] };

export function parseIPv4(s: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? bytes : null;
}

/** RFC 4291 text forms: `::` compression, an embedded dotted IPv4 tail, a zone id (refused: only link-local has one). */
export function parseIPv6(input: string): number[] | null {
  const s = input.toLowerCase();
  if (!/^[0-9a-f:.]+$/.test(s) || s.split("::").length > 2) return null;
  const groups: number[] = [];
  const parseSide = (side: string): number[] | null => {
    if (side === "") return [];
    const out: number[] = [];
    const parts = side.split(":");
    for (const [i, p] of parts.entries()) {
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIPv4(p);
        if (!v4) return null;
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
      } else {
        if (!/^[0-9a-f]{1,4}$/.test(p)) return null;
        out.push(Number.parseInt(p, 16));
      }
    }
    return out;
  };
  const [head, tail] = s.split("::") as [string, string | undefined];
  const left = parseSide(head);
  const right = tail === undefined ? [] : parseSide(tail);
  if (!left || !right) return null;
  if (tail === undefined) {
    if (left.length !== 8) return null;
    groups.push(...left);
  } else {
    const fill = 8 - left.length - right.length;
    if (fill < 1) return null;
    groups.push(...left, ...new Array<number>(fill).fill(0), ...right);
  }
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}

/** An IP literal as a URL hostname gives it (`[…]` for IPv6), or as a resolver answers it. */
export function parseIp(host: string): Ip | null {
  const v4 = parseIPv4(host);
  if (v4) return { v: 4, bytes: v4 };
  const inner = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const v6 = inner.includes(":") ? parseIPv6(inner) : null;
  return v6 ? { v: 6, bytes: v6 } : null;
}

const V4_BLOCKS: [number[], number, string][] = [
  [[0, 0, 0, 0], 8, "this-network address (0.0.0.0/8)"],
  [[10, 0, 0, 0], 8, "private address (10.0.0.0/8)"],
  [[100, 64, 0, 0], 10, "carrier-grade NAT address (100.64.0.0/10)"],
  [[127, 0, 0, 0], 8, "loopback address (127.0.0.0/8)"],
  [[169, 254, 169, 254], 32, "cloud metadata address (169.254.169.254)"],
  [[169, 254, 0, 0], 16, "link-local address (169.254.0.0/16)"],
  [[172, 16, 0, 0], 12, "private address (172.16.0.0/12)"],
  [[192, 0, 0, 0], 24, "IETF protocol address (192.0.0.0/24)"],
  [[192, 0, 2, 0], 24, "documentation address (192.0.2.0/24)"],
  [[192, 88, 99, 0], 24, "6to4 relay address (192.88.99.0/24)"],
  [[192, 168, 0, 0], 16, "private address (192.168.0.0/16)"],
  [[198, 18, 0, 0], 15, "benchmarking address (198.18.0.0/15)"],
  [[198, 51, 100, 0], 24, "documentation address (198.51.100.0/24)"],
  [[203, 0, 113, 0], 24, "documentation address (203.0.113.0/24)"],
  [[224, 0, 0, 0], 4, "multicast address (224.0.0.0/4)"],
  [[240, 0, 0, 0], 4, "reserved address (240.0.0.0/4)"],
];

function inPrefix(bytes: number[], prefix: number[], bits: number): boolean {
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if (((bytes[byte] as number) & mask) !== ((prefix[byte] ?? 0) & mask)) return false;
  }
  return true;
}

const isV4Loopback = (b: number[]) => b[0] === 127;

/** Why an address may not be called, or null when it is public unicast. */
export function blockedReason(ip: Ip): string | null {
  if (ip.v === 4) return V4_BLOCKS.find(([p, bits]) => inPrefix(ip.bytes, p, bits))?.[2] ?? null;
  const b = ip.bytes;
  const v4 = b.slice(12);
  const zero = (n: number) => b.slice(0, n).every((x) => x === 0);
  if (zero(10) && b[10] === 0xff && b[11] === 0xff) {
    const inner = blockedReason({ v: 4, bytes: v4 });
    return `IPv4-mapped IPv6 address (::ffff:0:0/96)${inner ? ` of a ${inner}` : ""}`;
  }
  if (zero(16)) return "unspecified address (::)";
  if (zero(15) && b[15] === 1) return "loopback address (::1)";
  if (zero(12)) return "IPv4-compatible IPv6 address (::/96)";
  if (inPrefix(b, [0, 0x64, 0xff, 0x9b], 32)) return "NAT64 address (64:ff9b::/96)";
  if (inPrefix(b, [0xfd, 0x00, 0x0e, 0xc2], 32)) return "cloud metadata address (fd00:ec2::/32)";
  if (inPrefix(b, [0xfc], 7)) return "unique local address (fc00::/7)";
  if (inPrefix(b, [0xfe, 0x80], 10)) return "link-local address (fe80::/10)";
  if (inPrefix(b, [0xfe, 0xc0], 10)) return "site-local address (fec0::/10)";
  if (b[0] === 0xff) return "multicast address (ff00::/8)";
  if (!inPrefix(b, [0x20], 3)) return "address outside global unicast (2000::/3)";
  if (inPrefix(b, [0x20, 0x01, 0x0d, 0xb8], 32)) return "documentation address (2001:db8::/32)";
  if (inPrefix(b, [0x3f, 0xff], 20)) return "documentation address (3fff::/20)";
  if (inPrefix(b, [0x20, 0x01, 0x00], 23)) return "IETF protocol address, Teredo included (2001::/23)";
  if (inPrefix(b, [0x20, 0x02], 16)) return "6to4 address (2002::/16)";
  return null;
}

function isLoopback(ip: Ip): boolean {
  if (ip.v === 4) return isV4Loopback(ip.bytes);
  const b = ip.bytes;
  if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) return true;
  return b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff && isV4Loopback(b.slice(12));
}

/** Refuses an address unless it is public, or loopback while the policy allows loopback. */
export function checkAddress(ip: Ip, policy: Pick<UrlPolicy, "allowLoopback">): void {
  if (policy.allowLoopback && isLoopback(ip)) return;
  const why = blockedReason(ip);
  if (why) throw new UrlRefusedError(why);
}

/** Names that never resolve publicly (RFC 6761, RFC 6762, ICANN's .internal, RFC 8375). */
const PRIVATE_SUFFIXES = ["localhost", "local", "internal", "localdomain", "home.arpa"];
const isLoopbackName = (host: string) => host === "localhost" || host.endsWith(".localhost");

/** What can be decided without DNS. Returns the parsed URL and the IP when the host is a literal. */
export function checkUrlShape(raw: string, policy: UrlPolicy): { url: URL; ip: Ip | null; loopbackName: boolean } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefusedError("it is not an absolute URL");
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && policy.allowHttp)) {
    throw new UrlRefusedError(policy.allowHttp ? "only http and https URLs can receive webhooks" : "only https URLs can receive webhooks");
  }
  if (url.username || url.password) throw new UrlRefusedError("credentials in the URL are not allowed (use the signature)");
  const host = url.hostname.replace(/\.$/, "");
  if (!host) throw new UrlRefusedError("the URL has no host");
  const ip = parseIp(host);
  if (ip) {
    try {
      checkAddress(ip, policy);
    } catch (err) {
      throw new UrlRefusedError(`the host ${host} is a ${(err as UrlRefusedError).reason}`);
    }
    return { url, ip, loopbackName: false };
  }
  if (/^[\d.]+$/.test(host) || host.startsWith("[")) throw new UrlRefusedError("the host is not a valid address");
  if (isLoopbackName(host)) {
    if (policy.allowLoopback) return { url, ip: null, loopbackName: true };
    throw new UrlRefusedError("the host is a loopback name (localhost)");
  }
  if (!host.includes(".")) throw new UrlRefusedError("the host is not a fully qualified domain name");
  if (PRIVATE_SUFFIXES.some((s) => host === s || host.endsWith(`.${s}`))) {
    throw new UrlRefusedError("the host is in a private-use domain");
  }
  return { url, ip: null, loopbackName: false };
}

export interface Resolution {
  addresses: string[];
  ttlSec: number;
}

type DohAnswer = { Status?: number; Answer?: { type?: number; TTL?: number; data?: string }[] };

/** A and AAAA records of `host` through a DNS-over-HTTPS resolver's JSON API (Cloudflare's, Google's). */
export async function resolveHost(host: string, opts: { dohUrl: string; timeoutMs: number; fetcher?: typeof fetch }): Promise<Resolution> {
  const fetcher = opts.fetcher ?? fetch;
  const ask = async (type: "A" | "AAAA") => {
    const url = new URL(opts.dohUrl);
    url.searchParams.set("name", host);
    url.searchParams.set("type", type);
    let body: DohAnswer;
    try {
      const res = await withTimeout(
        fetcher(url.toString(), { headers: { accept: "application/dns-json" }, redirect: "manual" }),
        opts.timeoutMs,
        "DNS resolver",
      );
      if (!res.ok) throw new Error(`resolver answered ${res.status}`);
      body = (await res.json()) as DohAnswer;
    } catch (err) {
      throw new DnsUnavailableError(`could not resolve ${type} records: ${err instanceof Error ? err.message : "error"}`);
    }
    // 0 NOERROR, 3 NXDOMAIN (no such name: no records). Anything else says nothing about the host.
    if (body.Status === 3) return [];
    if (body.Status !== 0) throw new DnsUnavailableError(`the resolver answered status ${String(body.Status)} for ${type}`);
    const want = type === "A" ? 1 : 28;
    return (body.Answer ?? [])
      .filter((a) => a.type === want && typeof a.data === "string")
      .map((a) => ({ ip: a.data as string, ttl: a.TTL ?? 0 }));
  };
  const answers = (await Promise.all([ask("A"), ask("AAAA")])).flat();
  return { addresses: answers.map((a) => a.ip), ttlSec: Math.min(...answers.map((a) => a.ttl), 300) };
}

/** Per isolate, bounded: attempts to one receiver do not each pay a resolver round trip within the records' TTL (≤ 60 s). */
const dnsCache = new Map<string, { addresses: string[]; expires: number }>();
const DNS_CACHE_MAX = 1000;
const DNS_CACHE_MAX_SEC = 60;

export function clearDnsCache(): void {
  dnsCache.clear();
}

/**
 * The full check: shape, then every address the host resolves to. `cache: true` (delivery) reuses a
 * resolution of this isolate within its TTL; registration always asks the resolver. Throws
 * UrlRefusedError (not allowed) or DnsUnavailableError (cannot tell now).
 */
export async function assertPublicUrl(
  raw: string,
  policy: UrlPolicy,
  dns: { dohUrl: string; timeoutMs: number; cache?: boolean; fetcher?: typeof fetch },
): Promise<URL> {
  const { url, ip, loopbackName } = checkUrlShape(raw, policy);
  if (ip || loopbackName) return url;
  const host = url.hostname.replace(/\.$/, "");
  const now = Date.now();
  const cached = dns.cache ? dnsCache.get(host) : undefined;
  let addresses = cached && cached.expires > now ? cached.addresses : undefined;
  if (!addresses) {
    const r = await resolveHost(host, dns);
    addresses = r.addresses;
    if (dns.cache && addresses.length) {
      if (dnsCache.size >= DNS_CACHE_MAX) dnsCache.clear();
      dnsCache.set(host, { addresses, expires: now + Math.min(r.ttlSec, DNS_CACHE_MAX_SEC) * 1000 });
    }
  }
  if (!addresses.length) throw new UrlRefusedError("the host does not resolve to any address");
  for (const a of addresses) {
    const parsed = parseIp(a);
    if (!parsed) throw new UrlRefusedError("the host resolves to something that is not an address");
    try {
      checkAddress(parsed, policy);
    } catch (err) {
      throw new UrlRefusedError(`the host resolves to ${a}, a ${(err as UrlRefusedError).reason}`);
    }
  }
  return url;
}
