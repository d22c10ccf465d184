import { Counter, Gauge, type Registry } from 'prom-client';
import { RedMetrics } from './red';

/** HTTP latency: sub-millisecond up to seconds, for a service whose typical answer takes ~1 ms. */
export const HTTP_DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The one `route` label value for every path that matches no route, so random paths cannot create series. */
export const UNMATCHED_ROUTE = '__unmatched__';

/** RED for every route (`route` is the route template, never the raw path), and the seed's request counter. */
export function httpMetrics(registry: Registry) {
  let inFlight = 0;
  let received = 0;
  return {
    /** Counted on every submission before any check: a plain number, read at scrape time. */
    submissionsReceived: {
      inc: () => void received++,
      counter: new Counter({
        name: 'app_requests_total',
        help: 'Submissions received on POST /submit_data, valid or not (the seed\'s request counter). Compare with http_requests_total{route="/submit_data"} to see rejections.',
        registers: [registry],
        collect() {
          this.reset();
          this.inc(received);
        },
      }),
    },
    /** http_requests_total and http_request_duration_seconds, by method, route and status. */
    httpRed: new RedMetrics(
      registry,
      {
        counter: 'http_requests_total',
        counterHelp: `HTTP requests answered, by method, route template (${UNMATCHED_ROUTE} for unknown paths) and final status code.`,
        histogram: 'http_request_duration_seconds',
        histogramHelp: 'Time from receiving a request to handing back its response, by method, route template and status.',
      },
      HTTP_DURATION_BUCKETS,
    ),
    /** Requests between the first hook and the recorded answer; read at scrape time. */
    httpInFlight: {
      inc: () => void inFlight++,
      dec: () => void inFlight--,
      gauge: new Gauge({
        name: 'http_requests_in_flight',
        help: 'HTTP requests being handled right now. Climbing without more traffic means requests are stuck.',
        registers: [registry],
        collect() {
          this.set(inFlight);
        },
      }),
    },
  };
}
