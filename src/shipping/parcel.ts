/** A cart's physical lines as one parcel: weight and an outer size the carriers can rate. */
import type { Parcel } from "./carrier.ts";

export interface ParcelLine {
  qty: number;
  requiresShipping: boolean;
  weightGrams: number | null;
  lengthMm: number | null;
  widthMm: number | null;
  heightMm: number | null;
}

/**
 * Weight: every physical unit's, with `defaultWeightGrams` for a product whose weight is unknown.
 * Size: the units stacked (longest length, widest width, heights added), when every physical line has
 * its dimensions; otherwise unknown, and the carrier rates by weight alone. Null when nothing ships.
 */
export function buildParcel(lines: readonly ParcelLine[], defaultWeightGrams: number): Parcel | null {
  const physical = lines.filter((l) => l.requiresShipping);
  if (!physical.length) return null;
  const weightGrams = physical.reduce((g, l) => g + l.qty * (l.weightGrams ?? defaultWeightGrams), 0);
  const sized = physical.every((l) => l.lengthMm && l.widthMm && l.heightMm);
  const dimensionsMm = sized
    ? {
        length: Math.max(...physical.map((l) => l.lengthMm as number)),
        width: Math.max(...physical.map((l) => l.widthMm as number)),
        height: physical.reduce((h, l) => h + l.qty * (l.heightMm as number), 0),
      }
    : null;
  return { weightGrams: Math.max(1, weightGrams), dimensionsMm, units: physical.reduce((n, l) => n + l.qty, 0) };
}
