/**
 * The Prometheus text exposition format (version 0.0.4), as `promtool check metrics` reads it:
 * `# HELP` and `# TYPE` once per family, then one line per sample, label values escaped.
 */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface Sample {
  labels?: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`; base units in the name (`_seconds`, never `_ms`). */
  name: string;
  help: string;
  type: "gauge" | "counter";
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const escapeHelp = (s: string) => s.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
const escapeLabel = (s: string) => s.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(v);
}

/** Renders the families in order. Throws on an invalid metric or label name (a bug, not data). */
export function renderExposition(families: MetricFamily[]): string {
  const lines: string[] = [];
  for (const f of families) {
    if (!NAME.test(f.name)) throw new Error(`invalid metric name ${f.name}`);
    lines.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      for (const [k] of labels) if (!LABEL.test(k) || k.startsWith("__")) throw new Error(`invalid label name ${k}`);
      const set = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}` : "";
      lines.push(`${f.name}${set} ${formatValue(s.value)}`);
    }
  }
  return `${lines.join("\n")}\n`;
}
