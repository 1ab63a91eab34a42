/**
 * An Image build never takes its workspace's Secrets and pushes only under `<registry>/<namespace>/`
 * (README "Image builds: trust model"): refused at apply time, naming the field. The controller judges
 * the same again with its own --build-registry, so a webhook configured without one only lets the
 * destination through to be refused there.
 */
import type { Image } from '../../apis/octopus.openi.pcl.cn/v1alpha1/index.js';
import { buildRefusals } from '../../controllers/image/build.js';
import type { Check } from './check.js';

export function validateImageBuild(registry: string): Check<Image> {
  return (ctx) => ({ errors: buildRefusals(ctx.object.spec.build, ctx.namespace ?? '', registry).map((r) => ({ path: r.field, message: r.message })) });
}
