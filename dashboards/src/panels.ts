import * as common from '@grafana/grafana-foundation-sdk/common';
import { ThresholdsConfigBuilder, ThresholdsMode, type DataSourceRef, type Threshold } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';

/**
 * Panel shorthands on top of grafana-foundation-sdk: every panel gets the `$datasource`
 * variable, a unit, a description and stable refIds, so the service dashboard reads as a list
 * of what each panel shows rather than builder boilerplate.
 */

/** The dashboard's datasource variable; provisioning points it at the datasource uid `prometheus`. */
export const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

export interface Query {
  expr: string;
  legend?: string;
  /** Table panels read the latest value only. */
  instant?: boolean;
}

export interface PanelSpec {
  title: string;
  description: string;
  /** A Grafana unit id, e.g. `reqps`, `s`, `percentunit`, `bytes`, `short`. */
  unit: string;
  queries: Query[];
  /** Threshold steps above the base colour; `null` base is added. */
  thresholds?: Array<{ value: number; color: string }>;
  baseColor?: string;
  min?: number;
  max?: number;
  decimals?: number;
  /** Grid width out of 24 (height is 8 for graphs, 5 for stats). */
  width?: number;
  height?: number;
}

function steps(spec: PanelSpec): ThresholdsConfigBuilder {
  const all: Threshold[] = [{ value: null, color: spec.baseColor ?? 'green' }, ...(spec.thresholds ?? [])];
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(all);
}

function targets(queries: Query[]) {
  return queries.map((q, i) => {
    const target = new DataqueryBuilder()
      .expr(q.expr)
      .refId(String.fromCharCode(65 + i))
      .datasource(DATASOURCE);
    if (q.legend) target.legendFormat(q.legend);
    if (q.instant) target.instant().format(PromQueryFormat.Table);
    return target;
  });
}

type Builder = timeseries.PanelBuilder | stat.PanelBuilder | table.PanelBuilder;

/** What every panel kind shares: text, datasource, unit, size, thresholds, value range and queries. */
function configure<B extends Builder>(panel: B, spec: PanelSpec, size: { width: number; height: number }, queries = spec.queries): B {
  panel.title(spec.title).description(spec.description).datasource(DATASOURCE).unit(spec.unit);
  panel
    .span(spec.width ?? size.width)
    .height(spec.height ?? size.height)
    .thresholds(steps(spec));
  if (spec.min !== undefined) panel.min(spec.min);
  if (spec.max !== undefined) panel.max(spec.max);
  if (spec.decimals !== undefined) panel.decimals(spec.decimals);
  for (const target of targets(queries)) panel.withTarget(target);
  return panel;
}

/** A graph; thresholds are drawn as dashed lines (the SLO and alert levels from the monitoring config). */
export function graph(spec: PanelSpec) {
  return configure(new timeseries.PanelBuilder(), spec, { width: 12, height: 8 })
    .thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(
        spec.thresholds?.length ? common.GraphThresholdsStyleMode.Dashed : common.GraphThresholdsStyleMode.Off,
      ),
    )
    .fillOpacity(10)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
}

/** One big number, coloured by thresholds, with a sparkline. */
export function single(spec: PanelSpec) {
  return configure(new stat.PanelBuilder(), spec, { width: 4, height: 5 })
    .colorMode(common.BigValueColorMode.Value)
    .graphMode(common.BigValueGraphMode.Area)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

/** A table of the latest values (e.g. the alerts that are pending or firing). */
export function list(spec: PanelSpec) {
  return configure(
    new table.PanelBuilder(),
    spec,
    { width: 12, height: 8 },
    spec.queries.map((q) => ({ ...q, instant: true })),
  ).noValue('No alerts pending or firing');
}
