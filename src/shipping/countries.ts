/**
 * ISO 3166-1 alpha-2 (the 249 officially assigned codes) and the postal-code and region rules of the
 * countries where the rule is well known. Elsewhere a postal code is optional and only its characters and
 * length are checked: many countries have none, and a guessed rule would refuse real addresses.
 */

const ISO_3166_1 =
  "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
  "CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
  "GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
  "KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT " +
  "MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
  "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG " +
  "UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

export const COUNTRIES: ReadonlySet<string> = new Set(ISO_3166_1.split(" "));

interface PostalRule {
  /** The normalised form (upper case, the country's separator) must match. */
  pattern: RegExp;
  example: string;
  /** Puts the separator where the country writes it (input is upper case, spaces and hyphens removed). */
  format?: (compact: string) => string;
}

const digits = (n: number, example: string): PostalRule => ({ pattern: new RegExp(`^\\d{${n}}$`), example });
/** Splits a compact code before its last `tail` characters with `sep`. */
const split =
  (tail: number, sep: string) =>
  (s: string): string =>
    s.length > tail ? `${s.slice(0, -tail)}${sep}${s.slice(-tail)}` : s;

export const POSTAL_RULES: Readonly<Record<string, PostalRule>> = {
  US: { pattern: /^\d{5}(-\d{4})?$/, example: "94105 or 94105-1234", format: (s) => (s.length === 9 ? split(4, "-")(s) : s) },
  CA: { pattern: /^[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] \d[ABCEGHJ-NPRSTV-Z]\d$/, example: "K1A 0B1", format: split(3, " ") },
  GB: { pattern: /^(GIR 0AA|[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2})$/, example: "SW1A 1AA", format: split(3, " ") },
  IE: { pattern: /^[AC-FHKNPRTV-Y]\d[\dW] [0-9AC-FHKNPRTV-Y]{4}$/, example: "D02 X285", format: split(4, " ") },
  NL: { pattern: /^\d{4} [A-Z]{2}$/, example: "1012 AB", format: split(2, " ") },
  SE: { pattern: /^\d{3} \d{2}$/, example: "114 55", format: split(2, " ") },
  PL: { pattern: /^\d{2}-\d{3}$/, example: "00-950", format: split(3, "-") },
  PT: { pattern: /^\d{4}-\d{3}$/, example: "1000-001", format: split(3, "-") },
  JP: { pattern: /^\d{3}-\d{4}$/, example: "100-0001", format: split(4, "-") },
  BR: { pattern: /^\d{5}-\d{3}$/, example: "01310-100", format: split(3, "-") },
  DE: digits(5, "10115"),
  FR: digits(5, "75001"),
  IT: digits(5, "00184"),
  ES: digits(5, "28001"),
  FI: digits(5, "00100"),
  MX: digits(5, "06000"),
  ID: digits(5, "10110"),
  MY: digits(5, "50000"),
  TH: digits(5, "10200"),
  KR: digits(5, "04524"),
  AT: digits(4, "1010"),
  BE: digits(4, "1000"),
  CH: digits(4, "8001"),
  DK: digits(4, "1050"),
  NO: digits(4, "0150"),
  AU: digits(4, "2000"),
  NZ: digits(4, "6011"),
  PH: digits(4, "1000"),
  ZA: digits(4, "2000"),
  IN: digits(6, "110001"),
  SG: digits(6, "018956"),
  CN: digits(6, "100000"),
};

/** Countries whose carriers need the state or province, as its postal abbreviation. */
export const REGION_CODES: Readonly<Record<string, ReadonlySet<string>>> = {
  US: new Set(
    (
      "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT " +
      "VT VA WA WV WI WY AS GU MP PR VI AA AE AP"
    ).split(" "),
  ),
  CA: new Set("AB BC MB NB NL NS NT NU ON PE QC SK YT".split(" ")),
  AU: new Set("ACT NSW NT QLD SA TAS VIC WA".split(" ")),
};

/** A postal code in its country's written form: upper case, separators where the country puts them. */
export function normalisePostalCode(country: string, raw: string): string {
  const upper = raw.normalize("NFKC").trim().toUpperCase().replace(/\s+/g, " ");
  const rule = POSTAL_RULES[country];
  if (!rule?.format) return upper;
  return rule.format(upper.replace(/[\s-]/g, ""));
}
