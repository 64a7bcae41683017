/**
 * Token keys created in this browser tab, kept in memory only (never in storage), so the
 * playground can offer a key that was just created without it being pasted.
 */
export interface RecentKey {
  name: string;
  key: string;
}

const keys: RecentKey[] = [];

export function rememberKey(k: RecentKey): void {
  keys.unshift(k);
  keys.splice(10);
}

export function recentKeys(): readonly RecentKey[] {
  return keys;
}
