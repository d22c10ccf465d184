import * as docker from '@pulumi/docker';

/**
 * The stack's user-defined bridge network, named after the stack. Docker's embedded DNS resolves
 * the containers' aliases on it, which is how Prometheus reaches `pipewatch:8000` and Grafana
 * reaches `prometheus:9090` whatever the containers are called.
 */
export function stackNetwork(name: string): docker.Network {
  return new docker.Network('network', { name, driver: 'bridge', labels: [{ label: 'org.pipewatch.stack', value: name }] });
}
