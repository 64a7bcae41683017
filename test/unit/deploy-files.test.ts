import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../lib/config/config.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const K8S = path.join(ROOT, 'docker/k8s');

/** The kubernetes-models class (validators generated from Kubernetes' OpenAPI schemas) of each kind used. */
const models: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
};

function validate(doc: any): void {
  const Model = models[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) throw new Error(`no schema for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc).validate();
}

interface Manifest {
  file: string;
  doc: any;
}

function manifests(): Manifest[] {
  const kustomization = parse(fs.readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8'));
  return (kustomization.resources as string[]).flatMap((file) =>
    parseAllDocuments(fs.readFileSync(path.join(K8S, file), 'utf8')).map((d) => {
      if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
      return { file, doc: d.toJS() };
    }),
  );
}

const one = (all: Manifest[], kind: string, name: string) => {
  const found = all.filter((m) => m.doc.kind === kind && m.doc.metadata.name === name);
  expect(found, `${kind} ${name}`).to.have.length(1);
  return found[0]!.doc;
};
const matches = (selector: Record<string, string>, labels: Record<string, string>) =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('docker/k8s (kustomize base)', () => {
  const all = manifests();

  it('lists every manifest of the folder in kustomization.yaml, and each is valid against the Kubernetes schemas', () => {
    const listed = new Set(all.map((m) => m.file));
    const files = fs.readdirSync(K8S).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect([...listed].sort()).to.deep.equal(files.sort());
    for (const { file, doc } of all) {
      try {
        validate(doc);
      } catch (err) {
        throw new Error(`${file} (${doc.kind} ${doc.metadata?.name}): ${(err as Error).message}`);
      }
    }
  });

  it('the schema check catches a broken manifest', () => {
    const broken = structuredClone(one(all, 'Deployment', 'switchyard-replica'));
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'three thousand';
    expect(() => validate(broken)).to.throw(/containerPort/);
    const noSelector = structuredClone(one(all, 'Deployment', 'switchyard-master'));
    delete noSelector.spec.selector;
    expect(() => validate(noSelector)).to.throw(/selector/);
  });

  it("docs/kubernetes.md's request-rate autoscaler is valid too", () => {
    const page = fs.readFileSync(path.join(ROOT, 'docs/kubernetes.md'), 'utf8');
    const objects = [...page.matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m) => parse(m[1]!))
      .filter((doc) => doc.apiVersion && doc.kind);
    expect(objects.map((o) => o.kind)).to.deep.equal(['HorizontalPodAutoscaler']);
    for (const doc of objects) validate(doc);
    expect(objects[0].spec.scaleTargetRef.name).to.equal('switchyard-replica');
  });

  describe('the gateway Deployments', () => {
    const configMap = one(all, 'ConfigMap', 'switchyard-config');
    const secret = one(all, 'Secret', 'switchyard-secrets');
    for (const name of ['switchyard-master', 'switchyard-replica']) {
      const deployment = one(all, 'Deployment', name);
      const pod = deployment.spec.template.spec;
      const container = pod.containers[0];
      /** The container's environment as the gateway would see it. */
      const env = (): Record<string, string> => {
        const out: Record<string, string> = {};
        for (const from of container.envFrom) {
          if (from.configMapRef) expect(from.configMapRef.name).to.equal(configMap.metadata.name);
          if (from.secretRef) expect(from.secretRef.name).to.equal(secret.metadata.name);
          Object.assign(out, from.configMapRef ? configMap.data : secret.stringData);
        }
        for (const e of container.env) out[e.name] = e.value ?? `${name}-5d8f7c9b4-x2x7q`; // a pod name
        return out;
      };

      it(`${name}: its environment is a valid gateway configuration`, () => {
        const config = loadConfig(env(), false);
        expect(config.role).to.equal(name.endsWith('master') ? 'master' : 'slave');
        if (config.role === 'slave') {
          const master = one(all, 'Service', new URL(config.masterUrl!).hostname);
          expect(Number(new URL(config.masterUrl!).port)).to.equal(master.spec.ports[0].port);
          expect(
            matches(
              master.spec.selector,
              one(all, 'Deployment', 'switchyard-master').spec.template.metadata.labels,
            ),
          ).to.equal(true);
        }
      });

      it(`${name}: probes on /readyz and /healthz at the port the gateway listens on`, () => {
        const config = loadConfig(env(), false);
        const http = container.ports.find((p: any) => p.name === 'http');
        expect(http.containerPort).to.equal(config.port);
        expect(container.readinessProbe.httpGet).to.deep.equal({ path: '/readyz', port: 'http' });
        expect(container.livenessProbe.httpGet).to.deep.equal({ path: '/healthz', port: 'http' });
        expect(container.startupProbe.httpGet).to.deep.equal({ path: '/healthz', port: 'http' });
      });

      it(`${name}: the grace period covers the preStop pause, the drain (SHUTDOWN_TIMEOUT_MS) and the final writes`, () => {
        const config = loadConfig(env(), false);
        const [cmd, seconds] = container.lifecycle.preStop.exec.command;
        expect(cmd).to.equal('sleep');
        const pause = Number(seconds);
        expect(pause).to.be.within(5, 30);
        expect(pod.terminationGracePeriodSeconds).to.be.at.least(
          pause + config.shutdownTimeoutMs / 1000 + 10,
        );
      });
    }

    it('one master, replaced by Recreate (never two at once); replicas roll without losing capacity', () => {
      const master = one(all, 'Deployment', 'switchyard-master');
      expect(master.spec.replicas).to.equal(1);
      expect(master.spec.strategy.type).to.equal('Recreate');
      const replica = one(all, 'Deployment', 'switchyard-replica');
      expect(replica.spec.strategy.rollingUpdate.maxUnavailable).to.equal(0);
    });

    it('the Services, the PodDisruptionBudget and the autoscaler select the pods they are for', () => {
      const masterPods = one(all, 'Deployment', 'switchyard-master').spec.template.metadata.labels;
      const replicaPods = one(all, 'Deployment', 'switchyard-replica').spec.template.metadata.labels;
      const relay = one(all, 'Service', 'switchyard');
      expect(matches(relay.spec.selector, masterPods) && matches(relay.spec.selector, replicaPods)).to.equal(
        true,
      );
      const pdb = one(all, 'PodDisruptionBudget', 'switchyard-replica');
      expect(matches(pdb.spec.selector.matchLabels, replicaPods)).to.equal(true);
      expect(matches(pdb.spec.selector.matchLabels, masterPods)).to.equal(false);
      const hpa = one(all, 'HorizontalPodAutoscaler', 'switchyard-replica');
      expect(hpa.spec.scaleTargetRef).to.deep.equal({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: 'switchyard-replica',
      });
      expect(hpa.spec.metrics[0].resource.name).to.equal('cpu');
      // CPU utilisation needs a CPU request to measure against.
      const replica = one(all, 'Deployment', 'switchyard-replica');
      expect(replica.spec.template.spec.containers[0].resources.requests.cpu).to.be.a('string');
      for (const svc of [relay, one(all, 'Service', 'switchyard-master')])
        expect(svc.spec.ports[0].targetPort).to.equal('http');
    });
  });
});

describe('docker/compose.yml and docker/Dockerfile', () => {
  const compose = parse(fs.readFileSync(path.join(ROOT, 'docker/compose.yml'), 'utf8'), { merge: true });

  it("replicas reach the master by its service name, at the master's port", () => {
    const replicas = Object.entries<any>(compose.services).filter(
      ([, s]) => s.environment?.NODE_TYPE === 'slave',
    );
    expect(replicas).to.have.length.at.least(1);
    for (const [name, service] of replicas) {
      const url = new URL(service.environment.MASTER_URL);
      const master = compose.services[url.hostname];
      expect(master, `${name}: MASTER_URL names service ${url.hostname}`).to.not.equal(undefined);
      expect(master.environment.NODE_TYPE).to.equal('master');
      expect(Number(url.port)).to.equal(loadConfig(master.environment, false).port);
    }
  });

  it('Redis keeps an append-only file, fsynced every second, on a volume', () => {
    const redis = compose.services.redis;
    const args: string[] = redis.command;
    const flag = (name: string) => args[args.indexOf(name) + 1];
    expect(flag('--appendonly')).to.equal('yes');
    expect(flag('--appendfsync')).to.equal('everysec');
    const [volume, mount] = (redis.volumes[0] as string).split(':');
    expect(mount).to.equal('/data');
    expect(compose.volumes).to.have.property(volume!);
  });

  it('the Dockerfile copies every folder the build compiles', () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'docker/Dockerfile'), 'utf8');
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => m[1]!.split(/\s+/));
    const build = JSON.parse(fs.readFileSync(path.join(ROOT, 'tsconfig.build.json'), 'utf8'));
    for (const included of build.include as string[]) expect(copied, `COPY ${included}`).to.include(included);
    for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'])
      expect(copied).to.include(file);
  });
});
