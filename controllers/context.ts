import type { Manager } from './runtime/index.js';
import type { ControllerOptions } from './options.js';

/** What every controller's setup function receives. */
export interface ControllerContext {
  manager: Manager;
  options: ControllerOptions;
}

/** Registers one controller (its informers, watches and reconcile) with the manager. */
export type ControllerSetup = (ctx: ControllerContext) => void;
