/**
 * Where API server 1.20 and 1.30 agree, Palisade's `check` answers as the real server does (validation.go has not
 * changed on these points between them): the answers are checked against kube-apiserver 1.20 here.
 */
import { CoreV1Api, NetworkingV1Api, type V1NetworkPolicy } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { validateObject } from '../../src/api/validate.js';
import { kubeApiServer, useKubeApiServer } from './apiserver.js';

const NS = 'reading';

describe.skipIf(!kubeApiServer.available)(kubeApiServer.title('reading manifests as kube-apiserver does'), () => {
  const server = useKubeApiServer();

  const cases: [name: string, spec: V1NetworkPolicy['spec'] | undefined, accepted: boolean][] = [
    ['spec: {} (podSelector defaults to empty: networking/v1 types.go non-pointer field)', {} as V1NetworkPolicy['spec'], true],
    ['no spec at all (non-pointer NetworkPolicySpec)', undefined, true],
    ['policyTypes with an unknown value (validation.go ValidateNetworkPolicySpec)', { podSelector: {}, policyTypes: ['Sideways'] }, false],
    ['an except outside its cidr (validation.go ValidateIPBlock)', { podSelector: {}, ingress: [{ _from: [{ ipBlock: { cidr: '10.0.0.0/8', except: ['11.0.0.0/16'] } }] }] }, false],
  ];

  it.each(cases)('%s: the server and check agree', async (name, spec, accepted) => {
    const net = server().kubeConfig.makeApiClient(NetworkingV1Api);
    const core = server().kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } }).catch(() => undefined);
    const policyName = `p-${cases.findIndex((c) => c[0] === name)}`;
    const body: V1NetworkPolicy = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: policyName }, ...(spec ? { spec } : {}) };
    const serverAccepted = await net.createNamespacedNetworkPolicy({ namespace: NS, body }).then(
      () => true,
      () => false,
    );
    expect(serverAccepted).toBe(accepted);
    // The client's model names `from` `_from`; the manifest check reads the wire form.
    const manifest = JSON.parse(JSON.stringify({ ...body, metadata: { name: policyName, namespace: NS } }).replace(/"_from"/g, '"from"')) as unknown;
    const errors = validateObject(manifest).filter((e) => (e.severity ?? 'error') === 'error');
    expect(errors.length === 0).toBe(accepted);
    if (accepted) {
      const stored = await net.readNamespacedNetworkPolicy({ name: policyName, namespace: NS });
      expect(stored.spec?.podSelector).toEqual({});
    }
  });
});
