/** Quota units: the gateway bills in integer units, 500,000 of them to the US dollar. */
export const QUOTA_PER_USD = 500_000;

export function unitsToUsd(units: number): number {
  return units / QUOTA_PER_USD;
}

/** Dollars to whole quota units (rounded to the nearest unit). */
export function usdToUnits(usd: number): number {
  return Math.round(usd * QUOTA_PER_USD);
}

/** `$1.234567` for quota units: six decimals show every unit ($0.000002). */
export function formatUsd(units: number | null | undefined, digits = 6): string {
  if (units === null || units === undefined) return '—';
  const usd = unitsToUsd(units);
  return `$${usd.toFixed(digits).replace(/(\.\d*?[1-9])0+$|\.0+$/, '$1')}`;
}

export function formatInt(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  return n.toLocaleString('en-US');
}
