// Command gen writes the Kibana saved objects in dashboards/ from the panel
// lists below, in the shape Kibana 8.19 exports them (by-reference Lens
// visualizations, data views, a saved search, dashboards). Run it from the
// repository root after changing a panel:
//
//	go run ./dashboards/gen
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Data view IDs.
const (
	viewAlerts    = "mlads-alerts"
	viewIncidents = "mlads-incidents"
	viewHealth    = "mlads-health"
	searchAlerts  = "mlads-alert-search"
)

// col is one Lens column: a bucket (date_histogram, terms) or a metric
// (count, unique_count, max, avg, sum).
type col struct {
	op, field string
	size      int
	label     string
}

// panel is one Lens visualization on a dashboard.
type panel struct {
	id, title, vis, view string // vis: bar_stacked, line, table, metric, pie
	cols                 []col
	w, h                 int
}

type dashboard struct {
	id, title, description, file string
	panels                       []panel
	search                       bool // the alert search as the last panel
}

func dashboards() []dashboard {
	count := col{op: "count", label: "Alerts"}
	overTime := col{op: "date_histogram", field: "@timestamp"}
	return []dashboard{{
		id: "mlads-overview", file: "10-alert-overview.ndjson", title: "[mlads] Alert overview", search: true,
		description: "Alerts over time by severity, the top sources and destinations, and alerts by detector and by sensor.",
		panels: []panel{
			{id: "mlads-alerts-total", title: "Alerts", vis: "metric", view: viewAlerts, cols: []col{count}, w: 12, h: 8},
			{id: "mlads-alert-sources-count", title: "Distinct sources", vis: "metric", view: viewAlerts,
				cols: []col{{op: "unique_count", field: "source.ip", label: "Sources"}}, w: 12, h: 8},
			{id: "mlads-alert-risk-max", title: "Highest risk score", vis: "metric", view: viewAlerts,
				cols: []col{{op: "max", field: "event.risk_score", label: "Risk score"}}, w: 12, h: 8},
			{id: "mlads-alert-hosts-count", title: "Hosts alerted on", vis: "metric", view: viewAlerts,
				cols: []col{{op: "unique_count", field: "mlads.host", label: "Hosts"}}, w: 12, h: 8},
			{id: "mlads-alerts-by-severity", title: "Alerts over time by severity", vis: "bar_stacked", view: viewAlerts,
				cols: []col{overTime, {op: "terms", field: "mlads.severity", size: 4}, count}, w: 48, h: 14},
			{id: "mlads-top-sources", title: "Top sources", vis: "table", view: viewAlerts,
				cols: []col{{op: "terms", field: "source.ip", size: 10}, count}, w: 24, h: 14},
			{id: "mlads-top-destinations", title: "Top destinations", vis: "table", view: viewAlerts,
				cols: []col{{op: "terms", field: "destination.ip", size: 10}, count}, w: 24, h: 14},
			{id: "mlads-by-detector", title: "Alerts by detector", vis: "pie", view: viewAlerts,
				cols: []col{{op: "terms", field: "rule.name", size: 12}, count}, w: 24, h: 14},
			{id: "mlads-by-sensor", title: "Alerts by sensor", vis: "bar_stacked", view: viewAlerts,
				cols: []col{overTime, {op: "terms", field: "observer.name", size: 10}, count}, w: 24, h: 14},
		},
	}, {
		id: "mlads-host", file: "20-host-drilldown.ndjson", title: "[mlads] Host drill-down", search: true,
		description: `Everything about one host: type related.ip : "10.0.0.5" in the query bar. ` +
			`"What stood out" lists each explained feature with the value seen and the host's baseline.`,
		panels: []panel{
			{id: "mlads-host-over-time", title: "Alerts over time by detector", vis: "bar_stacked", view: viewAlerts,
				cols: []col{overTime, {op: "terms", field: "rule.name", size: 10}, count}, w: 48, h: 12},
			{id: "mlads-host-peers", title: "Peers", vis: "table", view: viewAlerts,
				cols: []col{{op: "terms", field: "destination.ip", size: 20}, count, {op: "max", field: "event.risk_score", label: "Highest risk"}}, w: 16, h: 14},
			{id: "mlads-host-ports", title: "Destination ports", vis: "table", view: viewAlerts,
				cols: []col{{op: "terms", field: "destination.port", size: 20}, {op: "terms", field: "network.transport", size: 3}, count}, w: 16, h: 14},
			{id: "mlads-host-baseline", title: "What stood out, against the baseline", vis: "table", view: viewAlerts,
				cols: []col{{op: "terms", field: "mlads.features.text", size: 20, label: "Feature: seen, typical"}, count}, w: 16, h: 14},
			{id: "mlads-host-incidents", title: "Incidents", vis: "table", view: viewIncidents,
				cols: []col{{op: "terms", field: "rule.name", size: 20}, {op: "terms", field: "mlads.host", size: 20},
					{op: "max", field: "mlads.incident.count", label: "Alerts"}, {op: "max", field: "mlads.incident.last_seen", label: "Last seen"}}, w: 48, h: 12},
		},
	}, {
		id: "mlads-health", file: "30-sensor-health.ndjson", title: "[mlads] Sensor and pipeline health",
		description: "Input lag, drops, bad lines, output errors and the Elasticsearch spool of every sensor; " +
			"packets, kernel and ring drops and decode errors of every captured interface (counters since the capture opened: a rising drop line means the sensor is blind to part of the traffic).",
		panels: []panel{
			{id: "mlads-health-lag", title: "Input lag (seconds)", vis: "line", view: viewHealth,
				cols: []col{overTime, {op: "terms", field: "observer.name", size: 10}, {op: "max", field: "mlads.health.lag_seconds", label: "Lag"}}, w: 24, h: 12},
			{id: "mlads-health-spool", title: "Spooled documents", vis: "line", view: viewHealth,
				cols: []col{overTime, {op: "terms", field: "observer.name", size: 10}, {op: "max", field: "mlads.health.spool_docs", label: "Spooled"}}, w: 24, h: 12},
			{id: "mlads-health-errors", title: "Drops, bad lines and output errors", vis: "line", view: viewHealth,
				cols: []col{overTime, {op: "max", field: "mlads.health.drops", label: "Drops"}, {op: "max", field: "mlads.health.bad_lines", label: "Bad lines"},
					{op: "max", field: "mlads.health.output_errors", label: "Output errors"}, {op: "max", field: "mlads.health.spool_dropped", label: "Dropped by the spool"}}, w: 48, h: 12},
			{id: "mlads-health-sensors", title: "Sensors", vis: "table", view: viewHealth,
				cols: []col{{op: "terms", field: "observer.name", size: 50}, {op: "max", field: "@timestamp", label: "Last report"},
					{op: "max", field: "mlads.health.flows", label: "Flows"}, {op: "max", field: "mlads.health.dead_letters", label: "Dead letters"}}, w: 24, h: 12},
			{id: "mlads-health-alert-rate", title: "Alerts per sensor", vis: "bar_stacked", view: viewAlerts,
				cols: []col{overTime, {op: "terms", field: "observer.name", size: 10}, count}, w: 24, h: 12},
			{id: "mlads-health-capture-packets", title: "Captured packets by interface", vis: "line", view: viewHealth,
				cols: []col{overTime, {op: "terms", field: "observer.ingress.interface.name", size: 10}, {op: "max", field: "mlads.health.capture.packets", label: "Packets"}}, w: 24, h: 12},
			{id: "mlads-health-capture-drops", title: "Capture drops by interface (kernel, ring)", vis: "line", view: viewHealth,
				cols: []col{overTime, {op: "terms", field: "observer.ingress.interface.name", size: 10},
					{op: "max", field: "mlads.health.capture.kernel_drops", label: "Kernel drops"}, {op: "max", field: "mlads.health.capture.ring_drops", label: "Ring drops"}}, w: 24, h: 12},
			{id: "mlads-health-capture-interfaces", title: "Captured interfaces", vis: "table", view: viewHealth,
				cols: []col{{op: "terms", field: "observer.name", size: 50}, {op: "terms", field: "observer.ingress.interface.name", size: 20},
					{op: "max", field: "@timestamp", label: "Last report"}, {op: "max", field: "mlads.health.capture.packets", label: "Packets"},
					{op: "max", field: "mlads.health.capture.kernel_drops", label: "Kernel drops"}, {op: "max", field: "mlads.health.capture.ring_drops", label: "Ring drops"},
					{op: "max", field: "mlads.health.capture.decode_errors", label: "Decode errors"}}, w: 48, h: 12},
		},
	}}
}

type obj = map[string]any

type ref struct {
	Name string `json:"name"`
	Type string `json:"type"`
	ID   string `json:"id"`
}

// savedObject is one line of an export.
type savedObject struct {
	Attributes           obj    `json:"attributes"`
	CoreMigrationVersion string `json:"coreMigrationVersion"`
	ID                   string `json:"id"`
	Managed              bool   `json:"managed"`
	References           []ref  `json:"references"`
	Type                 string `json:"type"`
	TypeMigrationVersion string `json:"typeMigrationVersion"`
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func dataViews() []savedObject {
	dv := func(id, name, pattern string) savedObject {
		return savedObject{
			ID: id, Type: "index-pattern", CoreMigrationVersion: "8.8.0", TypeMigrationVersion: "8.0.0", References: []ref{},
			Attributes: obj{
				"title": pattern, "name": name, "timeFieldName": "@timestamp", "allowNoIndex": true,
				"fieldFormatMap":  `{"mlads.p_value":{"id":"number","params":{"pattern":"0.[000]e+0"}}}`,
				"runtimeFieldMap": "{}", "sourceFilters": "[]", "fieldAttrs": "{}", "typeMeta": "{}", "fields": "[]",
			},
		}
	}
	return []savedObject{
		dv(viewAlerts, "mlads alerts", "logs-mlads.alert-*"),
		dv(viewIncidents, "mlads incidents", "mlads-incident-*"),
		dv(viewHealth, "mlads sensor health", "metrics-mlads.health-*"),
	}
}

func alertSearch() savedObject {
	return savedObject{
		ID: searchAlerts, Type: "search", CoreMigrationVersion: "8.8.0", TypeMigrationVersion: "8.0.0",
		References: []ref{{Name: "kibanaSavedObjectMeta.searchSourceJSON.index", Type: "index-pattern", ID: viewAlerts}},
		Attributes: obj{
			"title":       "[mlads] Alerts",
			"description": "Every alert with its explanation (message) and what stood out against the baseline.",
			"columns": []string{"mlads.severity", "rule.name", "source.ip", "destination.ip", "destination.port",
				"message", "mlads.features.text", "mlads.p_value", "observer.name"},
			"sort":      [][]string{{"@timestamp", "desc"}},
			"grid":      obj{},
			"hideChart": false,
			"kibanaSavedObjectMeta": obj{"searchSourceJSON": mustJSON(obj{
				"query":        obj{"query": "event.kind : \"alert\"", "language": "kuery"},
				"filter":       []any{},
				"indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
			})},
		},
	}
}

// lensColumn is a column in the form Lens's form-based data source keeps.
func lensColumn(c col, orderBy string) obj {
	label := c.label
	switch c.op {
	case "date_histogram":
		return obj{"label": cmp(label, c.field), "dataType": "date", "operationType": "date_histogram", "sourceField": c.field,
			"isBucketed": true, "scale": "interval", "params": obj{"interval": "auto", "includeEmptyRows": true, "dropPartials": false}}
	case "terms":
		dataType := "string"
		if c.field == "source.ip" || c.field == "destination.ip" || c.field == "related.ip" {
			dataType = "ip"
		} else if c.field == "destination.port" {
			dataType = "number"
		}
		return obj{"label": cmp(label, fmt.Sprintf("Top %d values of %s", c.size, c.field)), "customLabel": label != "",
			"dataType": dataType, "operationType": "terms", "sourceField": c.field, "isBucketed": true, "scale": "ordinal",
			"params": obj{"size": c.size, "orderBy": obj{"type": "column", "columnId": orderBy}, "orderDirection": "desc",
				"otherBucket": true, "missingBucket": false, "parentFormat": obj{"id": "terms"},
				"include": []any{}, "exclude": []any{}, "includeIsRegex": false, "excludeIsRegex": false}}
	case "count":
		return obj{"label": cmp(label, "Count of records"), "customLabel": label != "", "dataType": "number", "operationType": "count",
			"sourceField": "___records___", "isBucketed": false, "scale": "ratio", "params": obj{"emptyAsNull": true}}
	default: // max, avg, sum, unique_count
		dataType := "number"
		if c.op == "max" && (c.field == "@timestamp" || c.field == "mlads.incident.last_seen") {
			dataType = "date"
		}
		return obj{"label": cmp(label, c.op+" of "+c.field), "customLabel": label != "", "dataType": dataType, "operationType": c.op,
			"sourceField": c.field, "isBucketed": false, "scale": "ratio", "params": obj{"emptyAsNull": true}}
	}
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func lens(p panel) savedObject {
	const layer = "layer1"
	columns := obj{}
	var order, buckets, metrics []string
	for i := range p.cols {
		id := "col" + strconv.Itoa(i+1)
		order = append(order, id)
		if p.cols[i].op == "date_histogram" || p.cols[i].op == "terms" {
			buckets = append(buckets, id)
		} else {
			metrics = append(metrics, id)
		}
	}
	for i, c := range p.cols {
		columns[order[i]] = lensColumn(c, metrics[0])
	}
	var vis obj
	visType := "lnsXY"
	switch p.vis {
	case "bar_stacked", "line":
		l := obj{"layerId": layer, "layerType": "data", "seriesType": p.vis, "xAccessor": buckets[0], "accessors": metrics,
			"position": "top", "showGridlines": false}
		if len(buckets) > 1 {
			l["splitAccessor"] = buckets[1]
		}
		vis = obj{"legend": obj{"isVisible": true, "position": "right"}, "valueLabels": "hide", "fittingFunction": "None",
			"preferredSeriesType": p.vis, "layers": []any{l}, "title": "Empty XY chart",
			"axisTitlesVisibilitySettings": obj{"x": true, "yLeft": true, "yRight": true}}
	case "table":
		visType = "lnsDatatable"
		var cs []any
		for _, id := range order {
			cs = append(cs, obj{"columnId": id})
		}
		vis = obj{"layerId": layer, "layerType": "data", "columns": cs}
	case "metric":
		visType = "lnsMetric"
		vis = obj{"layerId": layer, "layerType": "data", "metricAccessor": metrics[0]}
	case "pie":
		visType = "lnsPie"
		vis = obj{"shape": "donut", "layers": []any{obj{"layerId": layer, "layerType": "data", "primaryGroups": buckets,
			"metrics": metrics, "numberDisplay": "percent", "categoryDisplay": "default", "legendDisplay": "default", "nestedLegend": false}}}
	default:
		panic("unknown vis " + p.vis)
	}
	return savedObject{
		ID: p.id, Type: "lens", CoreMigrationVersion: "8.8.0", TypeMigrationVersion: "8.9.0",
		References: []ref{{Name: "indexpattern-datasource-layer-" + layer, Type: "index-pattern", ID: p.view}},
		Attributes: obj{
			"title": p.title, "description": "", "visualizationType": visType,
			"state": obj{
				"visualization": vis,
				"query":         obj{"query": "", "language": "kuery"},
				"filters":       []any{},
				"datasourceStates": obj{"formBased": obj{"layers": obj{layer: obj{
					"columns": columns, "columnOrder": order, "incompleteColumns": obj{}, "sampling": 1,
				}}}},
				"internalReferences": []any{},
				"adHocDataViews":     obj{},
			},
		},
	}
}

func dash(d dashboard) []savedObject {
	var out []savedObject
	var panels []any
	var refs []ref
	x, y, rowH := 0, 0, 0
	place := func(w, h int) obj {
		if x+w > 48 {
			x, y, rowH = 0, y+rowH, 0
		}
		g := obj{"x": x, "y": y, "w": w, "h": h}
		x += w
		rowH = max(rowH, h)
		return g
	}
	for i, p := range d.panels {
		out = append(out, lens(p))
		idx := strconv.Itoa(i + 1)
		g := place(p.w, p.h)
		g["i"] = idx
		panels = append(panels, obj{"type": "lens", "panelIndex": idx, "gridData": g, "embeddableConfig": obj{"enhancements": obj{}},
			"panelRefName": "panel_" + idx})
		refs = append(refs, ref{Name: idx + ":panel_" + idx, Type: "lens", ID: p.id})
	}
	if d.search {
		idx := strconv.Itoa(len(d.panels) + 1)
		g := place(48, 18)
		g["i"] = idx
		panels = append(panels, obj{"type": "search", "panelIndex": idx, "gridData": g, "embeddableConfig": obj{"enhancements": obj{}},
			"panelRefName": "panel_" + idx, "title": "Alerts"})
		refs = append(refs, ref{Name: idx + ":panel_" + idx, Type: "search", ID: searchAlerts})
	}
	out = append(out, savedObject{
		ID: d.id, Type: "dashboard", CoreMigrationVersion: "8.8.0", TypeMigrationVersion: "8.9.0", References: refs,
		Attributes: obj{
			"title": d.title, "description": d.description, "version": 1,
			"panelsJSON":  mustJSON(panels),
			"optionsJSON": mustJSON(obj{"useMargins": true, "syncColors": false, "syncCursor": true, "syncTooltips": false, "hidePanelTitles": false}),
			"timeRestore": true, "timeFrom": "now-24h", "timeTo": "now",
			"refreshInterval": obj{"pause": false, "value": 60000},
			"kibanaSavedObjectMeta": obj{"searchSourceJSON": mustJSON(obj{
				"query": obj{"query": "", "language": "kuery"}, "filter": []any{},
			})},
		},
	})
	return out
}

func write(dir, name string, objs []savedObject) error {
	var b bytes.Buffer
	for _, o := range objs {
		line, err := json.Marshal(o)
		if err != nil {
			return err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return os.WriteFile(filepath.Join(dir, name), b.Bytes(), 0o644)
}

func main() {
	dir := "dashboards"
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	// Kibana resolves references against the file and what it already
	// holds, and files are imported in name order: the shared objects first.
	if err := write(dir, "00-data-views.ndjson", append(dataViews(), alertSearch())); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for _, d := range dashboards() {
		if err := write(dir, d.file, dash(d)); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}
