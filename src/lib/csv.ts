/**
 * CSV for spreadsheets (RFC 4180: comma, CRLF, fields with a comma, quote or line break quoted,
 * quotes doubled). Formula injection (OWASP "CSV Injection"): a text cell that starts with
 * = + - @ tab or CR would run as a formula in Excel, LibreOffice or Sheets, so it is prefixed with
 * a single quote and quoted. Numbers (an optional minus, digits, an optional fraction) stay numbers.
 */
const NUMBER = /^-?\d+(\.\d+)?$/;
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  let s = String(value);
  if (typeof value !== "number" && !NUMBER.test(s) && FORMULA_START.test(s)) s = `'${s}`;
  return NEEDS_QUOTES.test(s) || s.startsWith("'") ? `"${s.replaceAll('"', '""')}"` : s;
}

/** A whole document: the header row, then one row per record, each line ended by CRLF. */
export function toCsv(header: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  return [header, ...rows].map((r) => `${r.map(csvCell).join(",")}\r\n`).join("");
}
