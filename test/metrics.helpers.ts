/** Analytics Engine in tests: a dataset binding that keeps every data point written to it (or throws). */
import { env } from "cloudflare:workers";

export interface Captured {
  dataset: AnalyticsEngineDataset;
  points: AnalyticsEngineDataPoint[];
  /** The event points, decoded by the schema of src/lib/metrics.ts (docs/ops/metrics.md). */
  events(): { event: string; detail: string; detail2: string; count: number; source: string; index: string }[];
  /** The request points, decoded. */
  requests(): {
    route: string;
    method: string;
    status: string;
    cache: string;
    tier: string;
    lane: string;
    durationMs: number;
    index: string;
  }[];
}

export function capture(): Captured {
  const points: AnalyticsEngineDataPoint[] = [];
  const blobs = (p: AnalyticsEngineDataPoint) => (p.blobs ?? []).map((b) => String(b ?? ""));
  return {
    dataset: { writeDataPoint: (p?: AnalyticsEngineDataPoint) => void (p && points.push(structuredClone(p))) },
    points,
    events: () =>
      points
        .filter((p) => blobs(p)[0] === "event")
        .map((p) => {
          const b = blobs(p);
          return {
            event: b[1] as string,
            detail: b[2] as string,
            detail2: b[3] as string,
            count: p.doubles?.[0] ?? 0,
            source: b[7] as string,
            index: String(p.indexes?.[0]),
          };
        }),
    requests: () =>
      points
        .filter((p) => blobs(p)[0] === "request")
        .map((p) => {
          const b = blobs(p);
          return {
            route: b[1] as string,
            method: b[2] as string,
            status: b[3] as string,
            cache: b[4] as string,
            tier: b[5] as string,
            lane: b[7] as string,
            durationMs: p.doubles?.[0] ?? -1,
            index: String(p.indexes?.[0]),
          };
        }),
  };
}

/** A dataset whose every write throws: a broken binding must cost metrics, never requests. */
export const throwingDataset = {
  writeDataPoint: () => {
    throw new Error("analytics engine is down");
  },
} as AnalyticsEngineDataset;

/** The test env with `METRICS` (and any vars) replaced. */
export const withDataset = (dataset: AnalyticsEngineDataset, vars: Record<string, string> = {}) =>
  ({ ...env, METRICS: dataset, ...vars }) as Env;
