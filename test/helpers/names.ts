/** Unique, readable names for per-test databases and key prefixes. */
import { randomBytes } from 'node:crypto';

export function uniqueName(label: string): string {
  const clean = label.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40);
  return `${clean || 't'}_${randomBytes(3).toString('hex')}`;
}
