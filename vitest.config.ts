import { defineConfig } from 'vitest/config';

// Two projects: unit tests run anywhere without root; integration tests need
// root, real overlayfs, namespaces, cgroups and the Debian oracles.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 300_000,
          globalSetup: ['test/integration/global-setup.ts'],
          setupFiles: ['test/integration/yield-to-runner.ts'],
          // Containers, cgroups and the registry are machine-wide: keep files serial.
          fileParallelism: false,
        },
      },
    ],
  },
});
