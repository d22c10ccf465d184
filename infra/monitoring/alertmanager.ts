import type { AlertRule } from './alerts';
import type { MonitoringConfig } from './config';
import { alternation } from './promql';

/**
 * Alertmanager routing for the local stack, from the same alert list: critical -> `page`,
 * warning -> `ticket`, grouped by `job`; inhibitions so that one cause pages once, not once per
 * alert that follows from it. The receivers carry no integration here: the local stack adds its
 * webhook (a secret) to both when one is configured.
 */

export const RECEIVERS = { page: 'page', ticket: 'ticket' } as const;

/** For each cause, the alerts that follow from it (same `job`) and are therefore held back. */
export function inhibitions(alerts: AlertRule[]): Array<{ source: string; targets: string[]; why: string }> {
  const names = new Set(alerts.map((a) => a.alert));
  const present = (list: string[]) => list.filter((n) => names.has(n));
  const all = alerts.map((a) => a.alert);
  return [
    {
      source: 'PipewatchTargetDown',
      targets: all.filter((n) => !['PipewatchTargetDown', 'PipewatchTargetMissing', 'PipewatchQueueDatabaseUnreachable'].includes(n)),
      why: 'an instance that cannot be scraped explains the failures, stalls and burn that follow from it',
    },
    {
      source: 'PipewatchQueueDatabaseUnreachable',
      targets: present([
        'PipewatchSubmissionsFailing',
        'PipewatchHighErrorRatio',
        'PipewatchAvailabilityBudgetBurnFast',
        'PipewatchAvailabilityBudgetBurnSlow',
        'PipewatchProcessingStalled',
        'PipewatchOldestJobTooOld',
        'PipewatchBacklogGrowing',
        'PipewatchQueueNearCapacity',
        'PipewatchHighLatencyP99',
        'PipewatchLatencyBudgetBurnFast',
        'PipewatchLatencyBudgetBurnSlow',
      ]),
      why: 'without its database the service refuses submissions (503 storage) and processes nothing',
    },
    {
      source: 'PipewatchSubmissionsFailing',
      targets: present(['PipewatchHighErrorRatio', 'PipewatchAvailabilityBudgetBurnFast', 'PipewatchAvailabilityBudgetBurnSlow']),
      why: 'the burn-rate and 5% alerts are the same outage, seen later',
    },
    {
      source: 'PipewatchProcessingStalled',
      targets: present(['PipewatchOldestJobTooOld', 'PipewatchBacklogGrowing', 'PipewatchQueueNearCapacity']),
      why: 'a growing, ageing backlog is what a stall looks like',
    },
  ];
}

export function alertmanagerConfig(config: MonitoringConfig, alerts: AlertRule[]) {
  return {
    route: {
      receiver: RECEIVERS.ticket,
      group_by: ['job'],
      group_wait: '30s',
      group_interval: '5m',
      repeat_interval: '4h',
      routes: [
        // Pages go out fast: the alerts already waited their `for`.
        { receiver: RECEIVERS.page, matchers: ['severity="critical"'], group_wait: '10s', repeat_interval: '1h' },
        { receiver: RECEIVERS.ticket, matchers: ['severity="warning"'] },
      ],
    },
    inhibit_rules: inhibitions(alerts).map((rule) => ({
      source_matchers: [`alertname="${rule.source}"`, `job="${config.selector.job}"`],
      target_matchers: [`alertname=~"${alternation(rule.targets)}"`],
      equal: ['job'],
    })),
    receivers: [{ name: RECEIVERS.page }, { name: RECEIVERS.ticket }],
  };
}
