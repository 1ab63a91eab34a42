/** The asset controllers as tests run them: scoped to a namespace, with the controller's default options. */
import { algorithmController } from '../../algorithm/controller.js';
import type { ControllerSetup } from '../../context.js';
import { datasetController } from '../../dataset/controller.js';
import { imageController } from '../../image/controller.js';
import { modelController } from '../../model/controller.js';
import { parseOptions, type ControllerOptions } from '../../options.js';
import type { Scope } from '../caches.js';

/** Every asset controller, watching `scope`. */
export function assetControllers(scope: Scope): ControllerSetup[] {
  return [datasetController(scope), algorithmController(scope), imageController(scope), modelController(scope)];
}

/** The controller's defaults (not the environment's), with what a test sets. */
export function controllerOptions(overrides: Partial<ControllerOptions> = {}): ControllerOptions {
  return { ...parseOptions([], {}), importerImage: 'registry.test/importer:1', builderImage: 'registry.test/builder:1', workers: 2, ...overrides };
}
