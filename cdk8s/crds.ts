import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { allKinds, customResourceDefinition, type KindDefinition } from '../apis/octopus.openi.pcl.cn/v1alpha1/index.js';

export interface OctopusCrdsProps {
  /** @default every Octopus kind */
  readonly kinds?: readonly KindDefinition[];
}

/** The CustomResourceDefinitions of Octopus, straight from the schemas in apis/. */
export class OctopusCrds extends Construct {
  public readonly crds: ApiObject[];

  constructor(scope: Construct, id: string, props: OctopusCrdsProps = {}) {
    super(scope, id);
    this.crds = (props.kinds ?? allKinds).map((kind) => {
      const crd = customResourceDefinition(kind);
      return new ApiObject(this, kind.plural, {
        apiVersion: crd.apiVersion!,
        kind: crd.kind!,
        metadata: { name: crd.metadata!.name!, labels: crd.metadata!.labels! },
        spec: crd.spec,
      });
    });
  }
}
