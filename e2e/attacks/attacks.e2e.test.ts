/**
 * The attack suite: every way around a workspace's isolation or limits that ever got through, tried
 * again as a member with only `octopus-edit` in their namespace (see tenants.ts). Each attack
 * asserts the refusal or the safe outcome, and that nothing was created that should not have been.
 * One platform for all of them; each area's attacks live in a module of their own.
 */
import { afterAll, beforeAll, describe } from '@jest/globals';
import { describeBuildAttacks } from './builds.js';
import { describeNetworkAttacks } from './network.js';
import { describePriorityAttacks } from './priority.js';
import { describeQuotaAttacks } from './quota.js';
import { describeSpecTamperingAttacks } from './spec-tampering.js';
import { describeStorageAttacks } from './storage.js';
import { setUpAttackWorld, tearDownAttackWorld, type AttackWorld } from './tenants.js';

let world: AttackWorld | undefined;
const current = (): AttackWorld => {
  if (!world) throw new Error('the attack world was not set up');
  return world;
};

beforeAll(async () => {
  world = await setUpAttackWorld();
}, 300_000);

afterAll(async () => {
  await tearDownAttackWorld(world);
}, 300_000);

describe('attacks on tenant isolation and quota', () => {
  // Each area adds one line: its module's describe function, given the world lazily.
  describeBuildAttacks(current);
  describeSpecTamperingAttacks(current);
  describeNetworkAttacks(current);
  describeStorageAttacks(current);
  describeQuotaAttacks(current);
  describePriorityAttacks(current);
});
