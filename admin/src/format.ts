/** Money in minor units and times: shown in the browser's locale and zone, UTC on hover. */

const digitsCache = new Map<string, number>();

/** Minor-unit exponent of a currency (2 for USD, 0 for JPY), from Intl. */
export function currencyDigits(currency: string): number {
  let d = digitsCache.get(currency);
  if (d === undefined) {
    try {
      d = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      d = 2;
    }
    digitsCache.set(currency, d);
  }
  return d;
}

export function money(cents: number | null | undefined, currency: string): string {
  if (cents === null || cents === undefined) return "—";
  const digits = currencyDigits(currency);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency, minimumFractionDigits: digits }).format(cents / 10 ** digits);
  } catch {
    return `${(cents / 10 ** digits).toFixed(digits)} ${currency}`;
  }
}

/** "19.99" in `currency` → 1999 minor units; null when it is not an amount with at most the currency's decimals. */
export function parseMoney(text: string, currency: string): number | null {
  const digits = currencyDigits(currency);
  const m = /^\s*(\d{1,10})(?:[.,](\d*))?\s*$/.exec(text);
  if (!m) return null;
  const frac = m[2] ?? "";
  if (frac.length > digits) return null;
  return Number(m[1]) * 10 ** digits + Number(frac.padEnd(digits, "0") || "0");
}

/** Minor units → the text of an amount input ("1999" USD → "19.99"). */
export function moneyInput(cents: number, currency: string): string {
  const digits = currencyDigits(currency);
  return digits ? (cents / 10 ** digits).toFixed(digits) : String(cents);
}

const local = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function localTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : local.format(d);
}

export function utcTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().replace("T", " ").slice(0, 19)} UTC`;
}

/** A `YYYY-MM-DD` from a date input → the start (or end) of that day in the browser's zone, as RFC 3339. */
export function dayBound(day: string, end: boolean): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return undefined;
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const date = end ? new Date(y, m - 1, d, 23, 59, 59, 999) : new Date(y, m - 1, d, 0, 0, 0, 0);
  return date.toISOString();
}

export const shortId = (id: string) => id.slice(0, 8);
