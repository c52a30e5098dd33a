/**
 * A real S3 protocol server (s3rver) on a free loopback port, spoken to by the
 * real AWS SDK. Each test file starts its own; each test uses its own prefix.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

export interface S3Sandbox {
  endpoint: string;
  bucket: string;
  client: S3Client;
  stop(): Promise<void>;
}

/** Credentials s3rver accepts; exported into the environment for the SDK's default chain. */
export const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

export async function startS3(bucket = 'backtrack-test'): Promise<S3Sandbox> {
  Object.assign(process.env, S3_ENV);
  const dir = await mkdtemp(path.join(tmpdir(), 'bt-s3rver-'));
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir });
  const info = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${info.port}`;
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    endpoint,
    bucket,
    client,
    async stop() {
      client.destroy();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
