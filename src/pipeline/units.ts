/**
 * Human-readable sizes. No imports and nothing Node-specific: the status
 * page (src/ui/, type-checked for the browser) prints sizes with it too.
 */

/** Human-readable bytes (binary units). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}
