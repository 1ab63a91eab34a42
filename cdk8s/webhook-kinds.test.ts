import { describe, expect, it } from '@jest/globals';
import type { Lookups } from '../webhooks/kinds/lookups.js';
import { octopusAdmission } from '../webhooks/kinds/index.js';
import { kindKey } from '../webhooks/registration.js';
import { webhookKinds } from './webhook-kinds.js';

describe('webhookKinds', () => {
  it('matches the registry the webhook process serves', () => {
    // Building the registry reads nothing; the lookups are only consulted per request.
    const served = octopusAdmission({} as Lookups);
    const { validated, mutated } = webhookKinds();
    expect(validated.map((k) => kindKey(k.kind)).sort()).toEqual(Object.keys(served.validators).sort());
    expect(mutated.map((k) => kindKey(k.kind)).sort()).toEqual(Object.keys(served.mutators).sort());
  });
});
