/**
 * The GTID-bearing events of both flavors:
 *
 *   MySQL GTID (33) / anonymous GTID (34): flags(1) uuid(16) gno(8) ...
 *   MySQL tagged GTID (42, 8.3+): a mysql::serialization message:
 *     version(varlen, 1) size(varlen, self-inclusive) last-non-ignorable-id(varlen)
 *     then fields <id varlen><data>: 0 flags, 1 uuid (16 varlen bytes),
 *     2 gno (signed varlen), 3 tag (varlen length + bytes), 4.. clocks and sizes
 *   MySQL Previous_gtids (35): n_sids(8; tagged sets mark the format in the
 *     top and bottom byte: format<<56 | n<<8 | format), then per source
 *     uuid(16) [tag: varlen length + bytes, tagged format only]
 *     n_intervals(8) and [start, end) pairs of 8 bytes
 *   MariaDB GTID (162): seq(8) domain(4) flags(1) ...; server id from the header
 *   MariaDB GTID list (163): count(4, low 28 bits) then domain(4) server(4) seq(8)
 */
import { GtidSet, type Gtid } from '../gtid.js';
import { BinlogFormatError, Reader, type Where } from './reader.js';

/** MariaDB GTID event flag: a standalone statement (DDL), not a BEGIN...COMMIT group. */
export const MARIA_FL_STANDALONE = 1;

function uuidText(b: Buffer | number[]): string {
  const h = Buffer.from(b).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A tag as the server accepts it: letters, digits and _, not starting with a digit, at most 32; compared lower-case. */
function checkTag(tag: string, where: Where): string {
  if (!/^[a-z_][a-z0-9_]{0,31}$/i.test(tag)) throw new BinlogFormatError(`${String(where)}: "${tag}" is not a GTID tag`);
  return tag.toLowerCase();
}

/** The source id of a GTID: the uuid, or uuid:tag (the key GtidSet uses). */
function sid(uuid: string, tag: string): string {
  return tag ? `${uuid}:${tag}` : uuid;
}

/** MySQL GTID_LOG_EVENT (33): undefined for an anonymous GTID (34, or gno 0). */
export function decodeMysqlGtid(body: Buffer, where: Where): Gtid | undefined {
  const r = new Reader(body, where);
  r.u8('flags');
  const uuid = uuidText(r.bytes(16, 'uuid'));
  const gno = r.u64('gno');
  return gno === 0n ? undefined : { flavor: 'mysql', sid: uuid, gno };
}

/** MySQL GTID_TAGGED_LOG_EVENT (42): the serialization message. */
export function decodeMysqlTaggedGtid(body: Buffer, where: Where): { gtid: Gtid; flags: number } {
  const r = new Reader(body, where);
  const version = r.varlen('serialization version');
  if (version !== 1n) throw new BinlogFormatError(`${String(where)}: serialization version ${version} is not one this reader knows (1)`);
  const size = Number(r.varlen('message size'));
  if (size > body.length) throw new BinlogFormatError(`${String(where)}: the message claims ${size} bytes, the event holds ${body.length}`);
  r.varlen('last non-ignorable field id');
  let flags = 0;
  let uuid: string | undefined;
  let gno: bigint | undefined;
  let tag = '';
  // Fields come in id order; the ones we need are the first four.
  while (r.pos < size && (uuid === undefined || gno === undefined || tag === '')) {
    const id = Number(r.varlen('field id'));
    if (id === 0) flags = Number(r.varlen('flags'));
    else if (id === 1) {
      const bytes: number[] = [];
      for (let i = 0; i < 16; i++) bytes.push(Number(r.varlen('uuid byte')));
      if (bytes.some((b) => b > 255)) throw new BinlogFormatError(`${String(where)}: a uuid byte is out of range`);
      uuid = uuidText(bytes);
    } else if (id === 2) gno = r.varlenSigned('gno');
    else if (id === 3) {
      const len = Number(r.varlen('tag length'));
      tag = checkTag(r.bytes(len, 'tag').toString('latin1'), where);
    } else break; // later fields: clocks, sizes, versions
  }
  if (uuid === undefined || gno === undefined || gno < 1n) throw new BinlogFormatError(`${String(where)}: a tagged GTID event without its uuid or gno`);
  return { gtid: { flavor: 'mysql', sid: sid(uuid, tag), gno }, flags };
}

/** MySQL PREVIOUS_GTIDS_LOG_EVENT (35), untagged or tagged. */
export function decodeMysqlPreviousGtids(body: Buffer, where: Where): GtidSet {
  const r = new Reader(body, where);
  const head = r.u64('source count');
  const format = Number(head >> 56n);
  if (format > 1) throw new BinlogFormatError(`${String(where)}: GTID set format ${format} is not one this reader knows`);
  const tagged = format === 1;
  const n = tagged ? Number((head >> 8n) & 0xffffffffffffn) : Number(head & 0xffffffffffffffn);
  const set = new GtidSet('mysql');
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const uuid = uuidText(r.bytes(16, 'uuid'));
    let tag = '';
    if (tagged) {
      const len = Number(r.varlen('tag length'));
      tag = len ? checkTag(r.bytes(len, 'tag').toString('latin1'), where) : '';
    }
    const intervals = Number(r.u64('interval count'));
    const ivs: string[] = [];
    for (let j = 0; j < intervals; j++) {
      const s = r.u64('interval start');
      const e = r.u64('interval end') - 1n; // stored end is exclusive
      if (e < s) throw new BinlogFormatError(`${String(where)}: an empty interval ${s}..${e + 1n}`);
      ivs.push(s === e ? `${s}` : `${s}-${e}`);
    }
    if (ivs.length) parts.push(`${uuid}:${tag ? `${tag}:` : ''}${ivs.join(':')}`);
  }
  if (parts.length) set.addAll(GtidSet.parse('mysql', parts.join(',')));
  return set;
}

/** MariaDB GTID_EVENT (162). */
export function decodeMariaGtid(body: Buffer, serverId: number, where: Where): { gtid: Gtid; flags: number } {
  const r = new Reader(body, where);
  const seq = r.u64('seq');
  const domain = r.u32('domain');
  const flags = r.u8('flags');
  return { gtid: { flavor: 'mariadb', domain, server: serverId, seq }, flags };
}

/** MariaDB GTID_LIST_EVENT (163). */
export function decodeMariaGtidList(body: Buffer, where: Where): GtidSet {
  const r = new Reader(body, where);
  const count = r.u32('count') & 0x0fffffff;
  const set = new GtidSet('mariadb');
  for (let i = 0; i < count; i++) {
    const domain = r.u32('domain');
    const server = r.u32('server');
    const seq = r.u64('seq');
    set.add({ flavor: 'mariadb', domain, server, seq });
  }
  return set;
}
