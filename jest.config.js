// Three layers, one style each: unit (pure logic, co-located *.test.ts), integration
// (*.int.test.ts against the real local control plane), e2e (a running Octopus, driven as a user would).
const transform = {
  // Type checking is `npm run typecheck`'s job; transpiling alone keeps the suites fast.
  '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
};
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform,
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
  testEnvironmentOptions: { globalsCleanup: 'on' },
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/.octopus/'],
};

export default {
  // Integration and e2e suites each run controllers that reconcile the whole cluster: one
  // suite at a time, so two suites' controllers never race over the same objects.
  maxWorkers: 1,
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apis,controllers,webhooks,cdk8s,hack,e2e}/**/*.test.ts'],
      testPathIgnorePatterns: ['/node_modules/', '\\.int\\.test\\.ts$', '\\.e2e\\.test\\.ts$'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apis,controllers,webhooks,cdk8s,hack,e2e}/**/*.int.test.ts'],
      globalSetup: '<rootDir>/e2e/harness/global-setup.js',
      setupFilesAfterEnv: ['<rootDir>/e2e/harness/slow-tests.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/e2e/**/*.e2e.test.ts'],
      globalSetup: '<rootDir>/e2e/harness/global-setup.js',
      setupFilesAfterEnv: ['<rootDir>/e2e/harness/slow-tests.ts'],
    },
  ],
};
