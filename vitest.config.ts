import { defineConfig } from 'vitest/config';

// Integration tests start real servers (MariaDB, s3rver); two cores here, so
// two files at a time, generous timeouts for server start-up.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
