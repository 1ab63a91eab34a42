import { pino, type Logger } from 'pino';
import type { ResourceRef } from '../resource.js';

/** Silent unless OCTOPUS_TEST_LOG names a level, e.g. OCTOPUS_TEST_LOG=debug when a test needs explaining. */
export function testLogger(): Logger {
  return pino({ level: process.env.OCTOPUS_TEST_LOG ?? 'silent' });
}

/** A built-in kind to exercise the runtime with before any Octopus CRD exists. */
export const configMaps: ResourceRef = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
