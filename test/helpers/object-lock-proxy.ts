/**
 * S3 Object Lock, emulated in front of s3rver (which has neither versioning
 * nor Object Lock; nothing installable here has them): an HTTP server that
 * speaks the S3 calls Backtrack makes, keeps every version of every key in
 * memory (bytes go to s3rver, one object per version), and applies the rules
 * of a bucket with Object Lock enabled:
 *
 *  - a PUT adds a version; a plain DELETE adds a delete marker (always
 *    allowed); only deleting a version by id is refused (403) while the
 *    version's retain-until date is in the future;
 *  - an upload (PUT, part) must carry Content-MD5 or an x-amz-checksum-*;
 *  - PutObjectRetention may extend a lock, never shorten it (COMPLIANCE; and
 *    GOVERNANCE without the bypass header, which Backtrack never sends);
 *  - GET and HEAD of a key whose newest version is a delete marker answer
 *    404 with x-amz-delete-marker: true; with versionId they read that version.
 *
 * Time is Date.now(), so a test moves it with vi.setSystemTime. What the
 * rules refused, and every PUT over a key that already had an object (an
 * in-place rewrite), is recorded for the test to assert on.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';

interface Version {
  versionId: string;
  deleteMarker: boolean;
  size: number;
  etag: string;
  lastModified: Date;
  mode?: string | undefined;
  retainUntil?: Date | undefined;
}

interface Upload {
  key: string;
  parts: Map<number, Buffer>;
  mode?: string | undefined;
  retainUntil?: Date | undefined;
}

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const iso = (d: Date) => d.toISOString();

export interface ObjectLockProxyOptions {
  /** The s3rver client the bytes go to, and a bucket there for them (created). */
  backend: S3Client;
  dataBucket: string;
  /** The bucket name clients use. */
  bucket: string;
  /** Versioning and Object Lock enabled (true), or a plain versioned bucket (false). */
  objectLock?: boolean;
}

export class ObjectLockProxy {
  readonly versions = new Map<string, Version[]>();
  /** Deletions of a locked version, refused. */
  readonly refused: Array<{ key: string; versionId: string; retainUntil: string; at: string }> = [];
  /** PUTs over a key whose newest version was an object. */
  readonly overwrites: string[] = [];
  /** Uploads refused for want of a checksum header. */
  readonly missingChecksum: string[] = [];
  private readonly uploads = new Map<string, Upload>();
  private server?: http.Server;
  endpoint = '';

  constructor(private readonly o: ObjectLockProxyOptions) {}

  async start(): Promise<string> {
    await this.backend().send(new CreateBucketCommand({ Bucket: this.o.dataBucket }));
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.error(res, 500, 'InternalError', (err as Error).message);
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.endpoint;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** The newest version of a key (a delete marker or an object), or undefined. */
  newest(key: string): Version | undefined {
    return this.versions.get(key)?.[0];
  }

  /** The newest object version of a key (beneath any delete marker). */
  newestObject(key: string): Version | undefined {
    return this.versions.get(key)?.find((v) => !v.deleteMarker);
  }

  /** Every key that has an object version, with the newest one. */
  objects(prefix = ''): Array<{ key: string; version: Version; hidden: boolean }> {
    const out: Array<{ key: string; version: Version; hidden: boolean }> = [];
    for (const [key, list] of this.versions) {
      const v = list.find((x) => !x.deleteMarker);
      if (key.startsWith(prefix) && v) out.push({ key, version: v, hidden: !!list[0]?.deleteMarker });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : 1));
  }

  /**
   * The s3rver client, its clock-skew correction undone: Node's own Date
   * header runs on the real clock while a test moves Date (vi.setSystemTime),
   * and the SDK would take the difference for skew and sign off by it.
   */
  private backend(): S3Client {
    this.o.backend.config.systemClockOffset = 0;
    return this.o.backend;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // Our Date follows the clock the test moves (Node's own header would not).
    res.setHeader('date', new Date().toUTCString());
    const url = new URL(req.url ?? '/', 'http://proxy');
    const q = url.searchParams;
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = rest.map(decodeURIComponent).join('/');
    const body = await readBody(req);
    if (bucket !== this.o.bucket) return this.error(res, 404, 'NoSuchBucket', `no bucket ${bucket}`);
    const m = req.method;
    if (!key) {
      if (m === 'GET' && q.has('versioning')) return this.xml(res, `<VersioningConfiguration xmlns="${NS}"><Status>Enabled</Status></VersioningConfiguration>`);
      if (m === 'GET' && q.has('object-lock')) {
        if (!this.o.objectLock) return this.error(res, 404, 'ObjectLockConfigurationNotFoundError', 'Object Lock configuration does not exist for this bucket');
        return this.xml(res, `<ObjectLockConfiguration xmlns="${NS}"><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`);
      }
      if (m === 'GET' && q.has('versions')) return this.listVersions(res, q.get('prefix') ?? '');
      if (m === 'GET' && q.has('uploads')) return this.error(res, 501, 'NotImplemented', 'ListMultipartUploads is not emulated');
      if (m === 'GET') return this.listObjects(res, q.get('prefix') ?? '');
      return this.error(res, 501, 'NotImplemented', `${m} on the bucket is not emulated`);
    }
    if (m === 'PUT' && q.has('retention')) return this.putRetention(res, key, q.get('versionId'), body.toString('utf8'), req.headers);
    if (m === 'GET' && q.has('retention')) {
      const v = this.find(key, q.get('versionId'));
      if (!v || !v.retainUntil) return this.error(res, 404, 'NoSuchObjectLockConfiguration', 'no retention');
      return this.xml(res, `<Retention xmlns="${NS}"><Mode>${v.mode}</Mode><RetainUntilDate>${iso(v.retainUntil)}</RetainUntilDate></Retention>`);
    }
    if (m === 'POST' && q.has('uploads')) {
      const id = randomBytes(8).toString('hex');
      this.uploads.set(id, { key, parts: new Map(), ...lockHeaders(req.headers) });
      return this.xml(res, `<InitiateMultipartUploadResult xmlns="${NS}"><Bucket>${esc(bucket)}</Bucket><Key>${esc(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
    }
    if (m === 'PUT' && q.has('uploadId')) {
      const u = this.uploads.get(q.get('uploadId')!);
      if (!u) return this.error(res, 404, 'NoSuchUpload', 'no such upload');
      if (!this.checksummed(req.headers, key)) return this.error(res, 400, 'InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Part requests with Object Lock parameters');
      u.parts.set(Number(q.get('partNumber')), body);
      res.writeHead(200, { etag: `"${md5(body)}"` }).end();
      return;
    }
    if (m === 'POST' && q.has('uploadId')) {
      const u = this.uploads.get(q.get('uploadId')!);
      if (!u) return this.error(res, 404, 'NoSuchUpload', 'no such upload');
      this.uploads.delete(q.get('uploadId')!);
      const order = [...body.toString('utf8').matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((x) => Number(x[1]));
      const bytes = Buffer.concat(order.map((n) => u.parts.get(n) ?? Buffer.alloc(0)));
      const v = await this.store(key, bytes, u.mode, u.retainUntil);
      res.setHeader('x-amz-version-id', v.versionId);
      return this.xml(res, `<CompleteMultipartUploadResult xmlns="${NS}"><Bucket>${esc(bucket)}</Bucket><Key>${esc(key)}</Key><ETag>"${v.etag}"</ETag></CompleteMultipartUploadResult>`);
    }
    if (m === 'DELETE' && q.has('uploadId')) {
      this.uploads.delete(q.get('uploadId')!);
      res.writeHead(204).end();
      return;
    }
    if (m === 'PUT') {
      if (!this.checksummed(req.headers, key)) return this.error(res, 400, 'InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters');
      const l = lockHeaders(req.headers);
      const v = await this.store(key, body, l.mode, l.retainUntil);
      res.writeHead(200, { etag: `"${v.etag}"`, 'x-amz-version-id': v.versionId }).end();
      return;
    }
    if (m === 'GET' || m === 'HEAD') return this.read(req, res, key, q.get('versionId'));
    if (m === 'DELETE') return this.delete(req, res, key, q.get('versionId'));
    return this.error(res, 501, 'NotImplemented', `${m} ${url.search} is not emulated`);
  }

  private checksummed(h: http.IncomingHttpHeaders, key: string): boolean {
    if (!this.o.objectLock) return true;
    const ok = !!h['content-md5'] || Object.keys(h).some((n) => n.startsWith('x-amz-checksum-')) || /checksum/i.test(String(h['x-amz-trailer'] ?? ''));
    if (!ok) this.missingChecksum.push(key);
    return ok;
  }

  private async store(key: string, bytes: Buffer, mode: string | undefined, retainUntil: Date | undefined): Promise<Version> {
    const versionId = `${Date.now().toString(36)}${randomBytes(6).toString('hex')}`;
    await this.backend().send(new PutObjectCommand({ Bucket: this.o.dataBucket, Key: versionId, Body: bytes }));
    const v: Version = { versionId, deleteMarker: false, size: bytes.length, etag: md5(bytes), lastModified: new Date(), ...(this.o.objectLock && retainUntil ? { mode, retainUntil } : {}) };
    const list = this.versions.get(key) ?? [];
    if (list[0] && !list[0].deleteMarker) this.overwrites.push(key);
    this.versions.set(key, [v, ...list]);
    return v;
  }

  private find(key: string, versionId: string | null): Version | undefined {
    const list = this.versions.get(key) ?? [];
    return versionId ? list.find((v) => v.versionId === versionId) : list[0];
  }

  private async read(req: http.IncomingMessage, res: http.ServerResponse, key: string, versionId: string | null): Promise<void> {
    const head = req.method === 'HEAD';
    const v = this.find(key, versionId);
    if (!v) return head ? void res.writeHead(404).end() : this.error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    if (v.deleteMarker) {
      res.setHeader('x-amz-delete-marker', 'true');
      res.setHeader('x-amz-version-id', v.versionId);
      if (versionId) return head ? void res.writeHead(405).end() : this.error(res, 405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
      return head ? void res.writeHead(404).end() : this.error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    }
    const headers: Record<string, string> = {
      etag: `"${v.etag}"`,
      'last-modified': v.lastModified.toUTCString(),
      'x-amz-version-id': v.versionId,
      'accept-ranges': 'bytes',
      ...(v.retainUntil ? { 'x-amz-object-lock-mode': v.mode ?? 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': iso(v.retainUntil) } : {}),
    };
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    const start = range ? Number(range[1]) : 0;
    if (range && start >= v.size && v.size > 0) return this.error(res, 416, 'InvalidRange', 'The requested range is not satisfiable');
    if (head) {
      res.writeHead(200, { ...headers, 'content-length': String(v.size) }).end();
      return;
    }
    const got = await this.backend().send(new GetObjectCommand({ Bucket: this.o.dataBucket, Key: v.versionId, ...(start ? { Range: `bytes=${start}-` } : {}) }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    res.writeHead(range ? 206 : 200, { ...headers, 'content-length': String(bytes.length), ...(range ? { 'content-range': `bytes ${start}-${v.size - 1}/${v.size}` } : {}) });
    res.end(bytes);
  }

  private async delete(req: http.IncomingMessage, res: http.ServerResponse, key: string, versionId: string | null): Promise<void> {
    const list = this.versions.get(key) ?? [];
    if (!versionId) {
      // A plain DELETE in a versioned bucket: a delete marker on top, nothing removed.
      const marker: Version = { versionId: `${Date.now().toString(36)}${randomBytes(6).toString('hex')}`, deleteMarker: true, size: 0, etag: '', lastModified: new Date() };
      this.versions.set(key, [marker, ...list]);
      res.writeHead(204, { 'x-amz-delete-marker': 'true', 'x-amz-version-id': marker.versionId }).end();
      return;
    }
    const v = list.find((x) => x.versionId === versionId);
    if (!v) return void res.writeHead(204).end();
    const bypass = req.headers['x-amz-bypass-governance-retention'] === 'true' && v.mode === 'GOVERNANCE';
    if (v.retainUntil && v.retainUntil.getTime() > Date.now() && !bypass) {
      this.refused.push({ key, versionId, retainUntil: iso(v.retainUntil), at: iso(new Date()) });
      return this.error(res, 403, 'AccessDenied', 'Access Denied because object protected by object lock.');
    }
    this.versions.set(key, list.filter((x) => x !== v));
    if (this.versions.get(key)!.length === 0) this.versions.delete(key);
    if (!v.deleteMarker) await this.backend().send(new DeleteObjectCommand({ Bucket: this.o.dataBucket, Key: v.versionId }));
    res.writeHead(204, { 'x-amz-version-id': v.versionId, ...(v.deleteMarker ? { 'x-amz-delete-marker': 'true' } : {}) }).end();
  }

  private putRetention(res: http.ServerResponse, key: string, versionId: string | null, xml: string, h: http.IncomingHttpHeaders): void {
    const v = this.find(key, versionId);
    if (!v || v.deleteMarker) return this.error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    const mode = /<Mode>([^<]+)<\/Mode>/.exec(xml)?.[1];
    const until = new Date(/<RetainUntilDate>([^<]+)<\/RetainUntilDate>/.exec(xml)?.[1] ?? '');
    if (!mode || Number.isNaN(until.getTime())) return this.error(res, 400, 'MalformedXML', 'bad retention');
    const shortens = v.retainUntil && until < v.retainUntil && v.retainUntil.getTime() > Date.now();
    const bypass = h['x-amz-bypass-governance-retention'] === 'true' && v.mode === 'GOVERNANCE';
    if ((shortens || (v.mode === 'COMPLIANCE' && mode !== 'COMPLIANCE' && v.retainUntil && v.retainUntil.getTime() > Date.now())) && !bypass) {
      return this.error(res, 403, 'AccessDenied', 'Access Denied: the retention of a locked version cannot be shortened');
    }
    v.mode = mode;
    v.retainUntil = until;
    res.writeHead(200).end();
  }

  private listObjects(res: http.ServerResponse, prefix: string): void {
    const contents = this.objects(prefix)
      .filter((o) => !o.hidden)
      .map((o) => `<Contents><Key>${esc(o.key)}</Key><LastModified>${iso(o.version.lastModified)}</LastModified><ETag>"${o.version.etag}"</ETag><Size>${o.version.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`);
    this.xml(res, `<ListBucketResult xmlns="${NS}"><Name>${this.o.bucket}</Name><Prefix>${esc(prefix)}</Prefix><KeyCount>${contents.length}</KeyCount><MaxKeys>100000</MaxKeys><IsTruncated>false</IsTruncated>${contents.join('')}</ListBucketResult>`);
  }

  private listVersions(res: http.ServerResponse, prefix: string): void {
    const parts: string[] = [];
    for (const key of [...this.versions.keys()].filter((k) => k.startsWith(prefix)).sort()) {
      for (const [i, v] of this.versions.get(key)!.entries()) {
        parts.push(
          v.deleteMarker
            ? `<DeleteMarker><Key>${esc(key)}</Key><VersionId>${v.versionId}</VersionId><IsLatest>${i === 0}</IsLatest><LastModified>${iso(v.lastModified)}</LastModified></DeleteMarker>`
            : `<Version><Key>${esc(key)}</Key><VersionId>${v.versionId}</VersionId><IsLatest>${i === 0}</IsLatest><LastModified>${iso(v.lastModified)}</LastModified><ETag>"${v.etag}"</ETag><Size>${v.size}</Size><StorageClass>STANDARD</StorageClass></Version>`,
        );
      }
    }
    this.xml(res, `<ListVersionsResult xmlns="${NS}"><Name>${this.o.bucket}</Name><Prefix>${esc(prefix)}</Prefix><MaxKeys>100000</MaxKeys><IsTruncated>false</IsTruncated>${parts.join('')}</ListVersionsResult>`);
  }

  private xml(res: http.ServerResponse, body: string): void {
    res.writeHead(200, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n${body}`);
  }

  private error(res: http.ServerResponse, status: number, code: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${esc(message)}</Message></Error>`);
  }
}

function lockHeaders(h: http.IncomingHttpHeaders): { mode?: string; retainUntil?: Date } {
  const mode = h['x-amz-object-lock-mode'] as string | undefined;
  const until = h['x-amz-object-lock-retain-until-date'] as string | undefined;
  return { ...(mode ? { mode } : {}), ...(until ? { retainUntil: new Date(until) } : {}) };
}

function md5(b: Buffer): string {
  return createHash('md5').update(b).digest('hex');
}

/** The request body, with aws-chunked framing (streamed uploads with trailing checksums) removed. */
async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const raw = Buffer.concat(chunks);
  if (!/aws-chunked/.test(String(req.headers['content-encoding'] ?? '')) && !String(req.headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-')) return raw;
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) break;
    const size = parseInt(raw.subarray(at, eol).toString('latin1').split(';')[0]!, 16);
    if (!size) break;
    out.push(raw.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}
