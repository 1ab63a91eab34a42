/**
 * The kinds the webhooks serve. To add one: list its descriptor in `kinds` (an apis/ KindDefinition
 * fits), and put its Validator and/or Mutator under the lowercased Kind, e.g. `job`. A kind gets a
 * validating webhook when it has a validator and a mutating one when it has a mutator; a handler
 * without a descriptor stops start-up.
 */
import type { MutatorRegistry, ValidatorRegistry } from '../admission.js';
import type { WebhookKind } from '../registration.js';

export const kinds: readonly WebhookKind[] = [];

export const validators: ValidatorRegistry = {};

export const mutators: MutatorRegistry = {};
