/**
 * The client address as a counter key (login throttle, the rate limiter's `ip` subject).
 * IPv4 is keyed by the address. IPv6 is keyed by its /64: one subscriber or host usually gets a
 * whole /64, so rotating addresses inside it must not reset a counter. Everything is normalised
 * (expanded, lower case; IPv4-mapped IPv6 → IPv4; zone id and brackets dropped), so one client has
 * one key however its address is written. Anything else, or nothing, is "unknown" (one shared key).
 */
export const UNKNOWN_CLIENT = "unknown";

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEXTET = /^[0-9a-f]{1,4}$/i;

function parseIPv4(s: string): number[] | null {
  const m = IPV4.exec(s);
  if (!m) return null;
  const octets = m.slice(1, 5).map(Number);
  return octets.every((o) => o <= 255) ? octets : null;
}

/** The 8 hextets of an IPv6 address (with `::` and an embedded dotted IPv4 tail), or null. */
function parseIPv6(s: string): number[] | null {
  let text = s;
  const tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (!v4 || lastColon < 0) return null;
    tail.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
    // Keep the colon so "::1.2.3.4" stays "::" + tail; drop it when it only separates ("a:…:b:1.2.3.4").
    text = text.endsWith("::", lastColon + 1) ? text.slice(0, lastColon + 1) : text.slice(0, lastColon);
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0] as string);
  const rest = halves.length === 2 ? groups(halves[1] as string) : [];
  if (![...head, ...rest].every((g) => HEXTET.test(g))) return null;
  const explicit = head.length + rest.length + tail.length;
  if (halves.length === 2 ? explicit > 7 : explicit !== 8) return null;
  const zeros = Array.from({ length: 8 - explicit }, () => 0);
  return [...head.map((g) => Number.parseInt(g, 16)), ...zeros, ...rest.map((g) => Number.parseInt(g, 16)), ...tail];
}

/** `CF-Connecting-IP` (or any address text) → the key of its client: "a.b.c.d", "xxxx:xxxx:xxxx:xxxx::/64" or "unknown". */
export function clientIpKey(raw: string | null | undefined): string {
  let s = (raw ?? "").trim();
  if (!s || s.length > 100) return UNKNOWN_CLIENT;
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const v4 = parseIPv4(s);
  if (v4) return v4.join(".");
  const h = parseIPv6(s);
  if (!h) return UNKNOWN_CLIENT;
  // IPv4-mapped (::ffff:a.b.c.d, also written in hex): the IPv4 client it is.
  if (h.slice(0, 5).every((g) => g === 0) && h[5] === 0xffff) {
    const [hi, lo] = [h[6] as number, h[7] as number];
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
  }
  return `${h
    .slice(0, 4)
    .map((g) => g.toString(16).padStart(4, "0"))
    .join(":")}::/64`;
}
