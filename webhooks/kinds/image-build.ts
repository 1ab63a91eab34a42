/**
 * An Image build never takes its workspace's Secrets (README "Image builds: trust model"): refused at
 * apply time, naming the field. Where it may push depends on the controller's registry, which only the
 * controller knows, so the controller refuses a destination outside the workspace's prefix.
 */
import type { Image } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { secretRefusals } from '../../controllers/image/build.js';
import type { Check } from './check.js';

export const validateImageBuild: Check<Image> = (ctx) => {
  const build = ctx.object.spec.build;
  return { errors: build ? secretRefusals(build).map((r) => ({ path: r.field, message: r.message })) : [] };
};
