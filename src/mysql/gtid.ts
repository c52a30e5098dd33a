/**
 * GTIDs and GTID sets of both flavors, which differ completely:
 *   MariaDB: `domain-server-seq`; a position is one GTID per replication domain
 *            ("0-1-42,1-2-7"), and d-s-n is included when the domain's seq >= n.
 *   MySQL:   `uuid[:tag]:gno`; a set is intervals per source uuid
 *            ("3e11fa47-...:1-5:7-9"), and a GTID is included when its gno is
 *            inside one of its uuid's intervals.
 * Everything else in Backtrack treats GTIDs through this file's functions.
 */
import { UsageError } from '../errors.js';

export type Flavor = 'mariadb' | 'mysql';

/** One transaction's identifier. */
export type Gtid =
  | { flavor: 'mariadb'; domain: number; server: number; seq: bigint }
  | { flavor: 'mysql'; sid: string; gno: bigint };

/** A set of GTIDs in one flavor's terms. */
export class GtidSet {
  /** MariaDB: domain -> highest {server, seq}. */
  private readonly domains = new Map<number, { server: number; seq: bigint }>();
  /** MySQL: sid (uuid or uuid:tag) -> sorted, merged [start, end] intervals. */
  private readonly sids = new Map<string, Array<[bigint, bigint]>>();

  constructor(readonly flavor: Flavor) {}

  /** Parse a set as the server prints it; '' is the empty set. */
  static parse(flavor: Flavor, text: string): GtidSet {
    const set = new GtidSet(flavor);
    const clean = text.replace(/\s+/g, '');
    if (!clean) return set;
    if (flavor === 'mariadb') {
      for (const part of clean.split(',')) set.add(parseGtid('mariadb', part));
      return set;
    }
    for (const part of clean.split(',')) {
      const fields = part.split(':');
      let sid = (fields.shift() ?? '').toLowerCase();
      if (!UUID.test(sid)) throw new UsageError(`"${part}" is not a MySQL GTID set element (uuid:interval[:interval])`);
      for (const f of fields) {
        if (/^[a-z_]/i.test(f)) {
          sid = `${sid.split(':')[0]}:${checkTag(f, part)}`;
          continue;
        }
        const m = /^(\d+)(?:-(\d+))?$/.exec(f);
        if (!m) throw new UsageError(`"${part}" has a bad interval "${f}" (expected N or N-M)`);
        const start = BigInt(m[1] as string);
        const end = m[2] === undefined ? start : BigInt(m[2]);
        if (end < start || start < 1n) throw new UsageError(`"${part}" has an empty interval "${f}"`);
        set.addInterval(sid, start, end);
      }
    }
    return set;
  }

  /** Add one transaction. */
  add(g: Gtid): this {
    if (g.flavor !== this.flavor) throw new UsageError(`cannot mix ${g.flavor} and ${this.flavor} GTIDs`);
    if (g.flavor === 'mariadb') {
      const cur = this.domains.get(g.domain);
      if (!cur || g.seq > cur.seq) this.domains.set(g.domain, { server: g.server, seq: g.seq });
    } else this.addInterval(g.sid, g.gno, g.gno);
    return this;
  }

  private addInterval(sid: string, start: bigint, end: bigint): void {
    const list = [...(this.sids.get(sid) ?? []), [start, end] as [bigint, bigint]].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const merged: Array<[bigint, bigint]> = [];
    for (const iv of list) {
      const last = merged[merged.length - 1];
      if (last && iv[0] <= last[1] + 1n) last[1] = iv[1] > last[1] ? iv[1] : last[1];
      else merged.push([iv[0], iv[1]]);
    }
    this.sids.set(sid, merged);
  }

  /** Add every transaction of `other` (a union). */
  addAll(other: GtidSet): this {
    if (other.flavor !== this.flavor) throw new UsageError(`cannot mix ${other.flavor} and ${this.flavor} GTID sets`);
    for (const [domain, v] of other.domains) this.add({ flavor: 'mariadb', domain, server: v.server, seq: v.seq });
    for (const [sid, ivs] of other.sids) for (const [s, e] of ivs) this.addInterval(sid, s, e);
    return this;
  }

  /** Whether the transaction is in the set (MariaDB: at or below its domain's position). */
  contains(g: Gtid): boolean {
    if (g.flavor === 'mariadb') {
      const cur = this.domains.get(g.domain);
      return cur !== undefined && g.seq <= cur.seq;
    }
    return (this.sids.get(g.sid) ?? []).some(([s, e]) => g.gno >= s && g.gno <= e);
  }

  /** Whether every transaction of `other` is in this set. */
  containsAll(other: GtidSet): boolean {
    if (other.flavor === 'mariadb') {
      for (const [domain, v] of other.domains) {
        const cur = this.domains.get(domain);
        if (!cur || cur.seq < v.seq) return false;
      }
      return true;
    }
    for (const [sid, ivs] of other.sids) {
      const mine = this.sids.get(sid) ?? [];
      for (const [s, e] of ivs) if (!mine.some(([ms, me]) => ms <= s && me >= e)) return false;
    }
    return true;
  }

  isEmpty(): boolean {
    return this.domains.size === 0 && this.sids.size === 0;
  }

  toString(): string {
    if (this.flavor === 'mariadb') {
      return [...this.domains.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([d, v]) => `${d}-${v.server}-${v.seq}`)
        .join(',');
    }
    // MySQL's own text: one element per uuid, its untagged intervals first,
    // then each tag (in order) with its intervals: uuid:1-5:alpha:1-2:beta:7.
    const byUuid = new Map<string, Array<[string, Array<[bigint, bigint]>]>>();
    for (const [sid, ivs] of this.sids) {
      if (ivs.length === 0) continue;
      const [uuid, tag = ''] = sid.split(':') as [string, string?];
      const list = byUuid.get(uuid) ?? [];
      list.push([tag, ivs]);
      byUuid.set(uuid, list);
    }
    const text = (ivs: Array<[bigint, bigint]>) => ivs.map(([s, e]) => (s === e ? `${s}` : `${s}-${e}`)).join(':');
    return [...byUuid.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([uuid, tags]) =>
        [uuid, ...tags.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([tag, ivs]) => (tag ? `${tag}:${text(ivs)}` : text(ivs)))].join(':'),
      )
      .join(',');
  }
}

/**
 * A GTID tag (MySQL 8.3+) as the server accepts it: a letter or _, then up
 * to 31 letters, digits or _; tags are case-insensitive and kept lower-case.
 */
function checkTag(tag: string, where: string): string {
  if (!/^[a-z_][a-z0-9_]{0,31}$/i.test(tag)) throw new UsageError(`"${where}" has a bad GTID tag "${tag}" (a letter or _, then at most 31 letters, digits or _)`);
  return tag.toLowerCase();
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Parse a single GTID. */
export function parseGtid(flavor: Flavor, text: string): Gtid {
  const t = text.trim();
  if (flavor === 'mariadb') {
    const m = /^(\d+)-(\d+)-(\d+)$/.exec(t);
    if (!m) throw new UsageError(`"${t}" is not a MariaDB GTID (domain-server-seq, e.g. 0-1-42)`);
    return { flavor, domain: Number(m[1]), server: Number(m[2]), seq: BigInt(m[3] as string) };
  }
  const fields = t.split(':');
  const uuid = (fields[0] ?? '').toLowerCase();
  const gno = fields[fields.length - 1] ?? '';
  if ((fields.length !== 2 && fields.length !== 3) || !UUID.test(uuid) || !/^\d+$/.test(gno) || BigInt(gno) < 1n) {
    throw new UsageError(`"${t}" is not a MySQL GTID (uuid:number or uuid:tag:number, e.g. 3e11fa47-71ca-11e1-9e33-c80aa9429562:23)`);
  }
  const sid = fields.length === 3 ? `${uuid}:${checkTag(fields[1] as string, t)}` : uuid;
  return { flavor, sid, gno: BigInt(gno) };
}

/** Render one GTID as the server would. */
export function formatGtid(g: Gtid): string {
  return g.flavor === 'mariadb' ? `${g.domain}-${g.server}-${g.seq}` : `${g.sid}:${g.gno}`;
}
