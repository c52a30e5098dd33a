/**
 * MySQL's Transaction_payload_event (40, 8.0.20+ with
 * binlog_transaction_compression=ON): a whole transaction's events but its
 * GTID, compressed. The body is a TLV header of packed integers
 * (libs/mysql/binlog/event/codecs/binary.cpp): type 2 compression (0 zstd,
 * 255 none), type 3 uncompressed size, type 1 payload size, type 0 the end;
 * then the payload. The payload holds ordinary events (BEGIN, table maps,
 * rows, XID) that carry no checksums of their own.
 *
 * Decompression uses Node's own zstd (node:zlib, Node.js >= 22.15).
 * MariaDB's compressed events (165-171) compress one event's body with
 * zlib: a header byte 0x80|(algorithm<<4)|lenlen, then lenlen bytes of the
 * uncompressed length (big-endian), then the zlib stream (log_event.cc).
 */
import { inflateSync, zstdDecompressSync } from 'node:zlib';
import { BinlogFormatError, Reader, type Where } from './reader.js';

const COMPRESSION_ZSTD = 0;
const COMPRESSION_NONE = 255;

/**
 * The largest payload decompressed in memory by default. A larger one (a
 * bulk change) still ends its transaction at the payload; its inner events
 * are not read (PayloadTooLarge).
 */
export const PAYLOAD_INFLATE_LIMIT = 256 * 1024 * 1024;

/** A payload larger than the limit: not damage, just not read in memory. */
export class PayloadTooLarge extends Error {
  constructor(readonly bytes: number | undefined) {
    super(`the payload is larger than can be read in memory${bytes === undefined ? '' : ` (${bytes} bytes)`}`);
  }
}

/** A Transaction_payload_event's inner events, decompressed. */
export function decodeTransactionPayload(body: Buffer, where: Where, limit = PAYLOAD_INFLATE_LIMIT): Buffer {
  const r = new Reader(body, where);
  let compression = COMPRESSION_NONE;
  let size: number | undefined;
  let uncompressed: number | undefined;
  for (;;) {
    const type = r.packed('payload header field type');
    if (type === 0) break;
    const length = r.packed('payload header field length');
    const start = r.pos;
    if (type === 1) size = r.packed('payload size');
    else if (type === 2) compression = r.packed('compression type');
    else if (type === 3) uncompressed = r.packed('uncompressed size');
    // Unknown fields are skipped by their length, as the server does.
    r.pos = start + length;
  }
  const payload = r.bytes(size ?? r.remaining, 'payload');
  if (compression === COMPRESSION_NONE) return payload;
  if (compression !== COMPRESSION_ZSTD) throw new BinlogFormatError(`${String(where)}: compression type ${compression} is not one this reader knows (0 zstd, 255 none)`);
  if ((uncompressed ?? 0) > limit) throw new PayloadTooLarge(uncompressed);
  let out: Buffer;
  try {
    out = zstdDecompressSync(payload, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw new PayloadTooLarge(undefined);
    throw new BinlogFormatError(`${String(where)}: the zstd payload does not decompress: ${(err as Error).message}`);
  }
  if (uncompressed !== undefined && out.length !== uncompressed) {
    throw new BinlogFormatError(`${String(where)}: the payload decompresses to ${out.length} bytes, its header says ${uncompressed}`);
  }
  return out;
}

/** The inner events of a payload: [type, header timestamp, flags, whole event] each. */
export function* innerEvents(payload: Buffer, where: Where): Generator<{ type: number; timestamp: number; serverId: number; flags: number; event: Buffer }> {
  let at = 0;
  while (at < payload.length) {
    if (payload.length - at < 19) throw new BinlogFormatError(`${String(where)}: the payload ends ${payload.length - at} byte(s) into an event header at ${at}`);
    const size = payload.readUInt32LE(at + 9);
    if (size < 19 || at + size > payload.length) throw new BinlogFormatError(`${String(where)}: an inner event at ${at} claims ${size} bytes, the payload has ${payload.length - at}`);
    yield { type: payload.readUInt8(at + 4), timestamp: payload.readUInt32LE(at), serverId: payload.readUInt32LE(at + 5), flags: payload.readUInt16LE(at + 17), event: payload.subarray(at, at + size) };
    at += size;
  }
}

/** Decompress a MariaDB compressed event part (query text or rows). */
export function mariaUncompress(data: Buffer, where: Where): Buffer {
  const r = new Reader(data, where);
  const head = r.u8('compression header');
  if ((head & 0x80) === 0) throw new BinlogFormatError(`${String(where)}: the compression header byte 0x${head.toString(16)} lacks the compressed bit`);
  const algorithm = (head & 0x70) >> 4;
  if (algorithm !== 0) throw new BinlogFormatError(`${String(where)}: compression algorithm ${algorithm} is not one this reader knows (0 zlib)`);
  const lenlen = head & 0x07;
  if (lenlen < 1 || lenlen > 4) throw new BinlogFormatError(`${String(where)}: a length of ${lenlen} bytes for the uncompressed size`);
  const len = r.bytes(lenlen, 'uncompressed size').readUIntBE(0, lenlen);
  let out: Buffer;
  try {
    out = inflateSync(r.rest(), { maxOutputLength: Math.max(len, 1) });
  } catch (err) {
    throw new BinlogFormatError(`${String(where)}: the zlib data does not decompress: ${(err as Error).message}`);
  }
  if (out.length !== len) throw new BinlogFormatError(`${String(where)}: decompresses to ${out.length} bytes, its header says ${len}`);
  return out;
}
