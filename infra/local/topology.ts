/**
 * The local stack's one owner of in-network hosts, ports and paths. Hosts are network aliases (the
 * same in every stack: the repo's monitoring config addresses peers by them); container, network
 * and volume names are per stack (see common.ts), so two stacks and unrelated containers named
 * `prometheus` or `grafana` coexist on one Docker host.
 */
export const SERVICE_HOST = 'pipewatch';
export const SERVICE_PORT = 8000;
/** queueDriver=sqlite: the queue file's directory, on a named volume. */
export const DATA_DIR = '/data';

export const PROMETHEUS_HOST = 'prometheus';
export const PROMETHEUS_PORT = 9090;
export const PROMETHEUS_CONFIG_FILE = '/etc/prometheus/prometheus.yml';
/** The repo's prometheus.yml loads `/etc/prometheus/rules/*.yml`. */
export const PROMETHEUS_RULES_DIR = '/etc/prometheus/rules';
export const PROMETHEUS_DATA_DIR = '/prometheus';

export const GRAFANA_HOST = 'grafana';
export const GRAFANA_PORT = 3000;
export const GRAFANA_PROVISIONING_DIR = '/etc/grafana/provisioning';
/** The repo's dashboard provider (dashboards/provisioning/dashboards/pipewatch.yml) reads this folder. */
export const GRAFANA_DASHBOARDS_DIR = '/var/lib/grafana/dashboards';

export const ALERTMANAGER_HOST = 'alertmanager';
export const ALERTMANAGER_PORT = 9093;

/** tracing=true: Grafana Tempo (single binary). Its HTTP API (Grafana's datasource) and OTLP/HTTP receiver. */
export const TEMPO_HOST = 'tempo';
export const TEMPO_HTTP_PORT = 3200;
export const TEMPO_OTLP_HTTP_PORT = 4318;
export const TEMPO_CONFIG_FILE = '/etc/tempo/tempo.yaml';
export const TEMPO_DATA_DIR = '/var/tempo';

export const POSTGRES_HOST = 'postgres';
export const POSTGRES_PORT = 5432;
export const POSTGRES_DATA_DIR = '/var/lib/postgresql/data';
export const POSTGRES_DB = 'pipewatch';
/** The service's role (owner of the queue's database, nothing more). */
export const POSTGRES_USER = 'pipewatch';
/** The image's superuser, for an operator's psql only. */
export const POSTGRES_ADMIN_USER = 'postgres';
/** The official image runs /docker-entrypoint-initdb.d/* once, on an empty data directory. */
export const POSTGRES_INIT_SCRIPT = '/docker-entrypoint-initdb.d/10-pipewatch-role.sh';

/** In-network host of service replica `index` (1-based): `pipewatch` alone, `pipewatch-N` with several. */
export function serviceHost(index: number, replicas: number): string {
  return replicas === 1 ? SERVICE_HOST : `${SERVICE_HOST}-${index}`;
}
