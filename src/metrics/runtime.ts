import { Gauge, collectDefaultMetrics, type Registry } from 'prom-client';

/** Build identity, exported as labels of `pipewatch_build_info`. */
export interface BuildInfo {
  version: string;
  commit: string;
}

/**
 * prom-client default metrics that are empty or synthetic on Bun (checked against Bun by
 * test/http-metrics.test.ts, which fails when one of them starts telling the truth). They are
 * dropped rather than exported as misleading series; the README lists them with the reason.
 */
export const DROPPED_DEFAULT_METRICS = {
  nodejs_gc_duration_seconds: 'Bun never reports GC events to perf_hooks: the histogram stays empty',
  nodejs_heap_space_size_total_bytes: 'JSC has no V8 heap spaces: all but one space are always 0',
  nodejs_heap_space_size_used_bytes: 'JSC has no V8 heap spaces: all but one space are always 0',
  nodejs_heap_space_size_available_bytes: 'JSC has no V8 heap spaces: all but one space are always 0',
  nodejs_heap_size_total_bytes: 'JSC heap capacity, which excludes large allocations and can be below the used size',
  process_heap_bytes: "VmData, which on Bun is dominated by JSC's gigabytes of reserved, untouched address space",
  nodejs_active_handles: 'Bun does not track libuv handles: always empty',
  nodejs_active_handles_total: 'Bun does not track libuv handles: always 0',
  nodejs_active_requests: 'Bun does not track libuv requests: always empty',
  nodejs_active_requests_total: 'Bun does not track libuv requests: always 0',
  nodejs_active_resources: 'process.getActiveResourcesInfo() is always empty on Bun',
  nodejs_active_resources_total: 'process.getActiveResourcesInfo() is always empty on Bun',
  nodejs_version_info: 'the Node.js version Bun emulates, not what runs; see pipewatch_build_info',
} as const;

/** The process: prom-client's default metrics that tell the truth on Bun, and which build runs. */
export function runtimeMetrics(registry: Registry, build: BuildInfo) {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  for (const name of Object.keys(DROPPED_DEFAULT_METRICS)) registry.removeSingleMetric(name);
  const buildInfo = new Gauge({
    name: 'pipewatch_build_info',
    help: 'Always 1; labels say which pipewatch build and which Bun runtime run (nodejs_version_info would report the Node version Bun emulates).',
    labelNames: ['version', 'commit', 'bun_version'] as const,
    registers: [registry],
  });
  buildInfo.set({ version: build.version, commit: build.commit, bun_version: Bun.version }, 1);
  return { buildInfo };
}
