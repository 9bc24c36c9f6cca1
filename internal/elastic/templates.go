package elastic

import (
	"encoding/json"
	"fmt"
)

// MappingVersion is the version of the templates below. It is stored in
// each template's _meta; Setup rolls a data stream over when the version
// installed before is older, so new backing indices get the new mapping.
// Version 2 maps mlads.suppressed_by and mlads.severity_override_by;
// version 3 the notification fields of the health documents; version 4
// the captured interfaces' health documents (observer.ingress.interface.name,
// mlads.health.capture.*).
const MappingVersion = 4

// Template and policy names. They all start with "mlads" or hold
// ".mlads" so that one look at the cluster shows whose they are.
const (
	componentECS      = "mlads-ecs@mappings"
	componentAlert    = "mlads-alert@mappings"
	componentHealth   = "mlads-health@mappings"
	componentSettings = "mlads@settings"
	componentIncident = "mlads-incident@settings"
	templateAlert     = "logs-mlads.alert"
	templateHealth    = "metrics-mlads.health"
	templateIncident  = "mlads-incident"
	policyStreams     = "mlads"
	policyIncidents   = "mlads-incident"
)

// templatePriority is above the 100 of Elastic's built-in logs-*-* and
// metrics-*-* templates, so ours win for our names on a full cluster.
const templatePriority = 200

type obj = map[string]any

func keyword() obj { return obj{"type": "keyword", "ignore_above": 1024} }
func text() obj    { return obj{"type": "text"} }
func date() obj    { return obj{"type": "date"} }
func ip() obj      { return obj{"type": "ip"} }
func long() obj    { return obj{"type": "long"} }
func double() obj  { return obj{"type": "double"} }
func boolean() obj { return obj{"type": "boolean"} }

// flattenedType holds free-form evidence maps: one field, any keys, no
// mapping explosion, no type conflicts between detectors.
func flattenedType() obj { return obj{"type": "flattened"} }

func props(p obj) obj { return obj{"properties": p} }

func endpoint() obj {
	return props(obj{"ip": ip(), "port": long(), "bytes": long(), "packets": long()})
}

// ecsMappings are the ECS fields an alert document uses (ECS 8.x types;
// core types only, so the same template works on every distribution).
func ecsMappings() obj {
	return obj{
		"@timestamp": date(),
		"message":    text(),
		"event": props(obj{
			"id": keyword(), "kind": keyword(), "category": keyword(), "type": keyword(),
			"severity": long(), "risk_score": double(), "reason": keyword(),
			"start": date(), "end": date(), "duration": long(),
			"dataset": keyword(), "module": keyword(),
		}),
		"rule": props(obj{
			"id": keyword(), "name": keyword(), "category": keyword(), "description": keyword(), "ruleset": keyword(),
		}),
		"source":      endpoint(),
		"destination": endpoint(),
		"network": props(obj{
			"transport": keyword(), "protocol": keyword(), "community_id": keyword(), "iana_number": keyword(),
			"bytes": long(), "packets": long(), "vlan": props(obj{"id": keyword()}),
		}),
		"related":  props(obj{"ip": ip()}),
		"observer": props(obj{"name": keyword(), "type": keyword(), "vendor": keyword(), "product": keyword()}),
		"data_stream": props(obj{
			"type": keyword(), "dataset": keyword(), "namespace": keyword(),
		}),
	}
}

// alertMappings are mlads's own fields. Lists of objects (hits, features,
// behaviours) are plain objects, not nested: Lens cannot chart nested
// fields, and each list is read whole from _source anyway.
func alertMappings() obj {
	return obj{"mlads": props(obj{
		"detector": keyword(), "host": keyword(), "score": double(), "p_value": double(),
		"severity": keyword(), "summary": text(), "source": keyword(), "flow_uids": keyword(),
		"suppressed_by": keyword(), "severity_override_by": keyword(),
		"hits": props(obj{"detector": keyword(), "p_value": double(), "fired": boolean()}),
		"features": props(obj{
			"name": keyword(), "value": double(), "median": double(), "spread": double(), "z": double(),
			"text": keyword(), "categorical": boolean(),
		}),
		"evidence": flattenedType(),
		"behaviors": props(obj{
			"detector": keyword(), "host": keyword(), "peer": keyword(), "start": date(), "end": date(),
			"p_value": double(), "summary": text(), "evidence": flattenedType(), "flow_uids": keyword(),
		}),
		"incident": props(obj{"id": keyword(), "count": long(), "first_seen": date(), "last_seen": date()}),
	})}
}

// healthMappings are the fields of a sensor-health document (Health).
func healthMappings() obj {
	return obj{
		"@timestamp": date(),
		"event":      props(obj{"kind": keyword(), "dataset": keyword(), "module": keyword()}),
		"observer": props(obj{"name": keyword(), "type": keyword(), "vendor": keyword(), "product": keyword(),
			"ingress": props(obj{"interface": props(obj{"name": keyword()})})}),
		"data_stream": props(obj{"type": keyword(), "dataset": keyword(), "namespace": keyword()}),
		"mlads": props(obj{"health": props(obj{
			"inputs": long(), "lag_seconds": double(), "flows": long(), "bad_lines": long(), "drops": long(),
			"alerts": long(), "output_errors": long(), "spool_bytes": long(), "spool_docs": long(),
			"spool_dropped": long(), "dead_letters": long(), "channels_failing": keyword(), "notify_pending": long(),
			// a captured interface's document (WriteHealth)
			"capture": props(obj{"packets": long(), "kernel_drops": long(), "ring_drops": long(), "decode_errors": long()}),
		})}),
	}
}

// request is one call Setup makes.
type request struct {
	Method, Path string
	Body         obj
	// Op names it in errors and in the dry-run listing.
	Op string
}

// setupRequests lists the policies and templates Setup installs, in
// dependency order.
func (c *Client) setupRequests() []request {
	meta := obj{"managed_by": "mlads", "managed": true, "version": MappingVersion}
	dynamicOff := func(p obj) obj {
		// Unknown fields are kept in _source but not indexed: a field added
		// by a newer mlads never fails a write or explodes the mapping.
		return obj{"mappings": obj{"dynamic": false, "properties": p}}
	}
	deleteAfter := obj{"min_age": c.opts.Retention, "actions": obj{"delete": obj{}}}
	return []request{
		{"PUT", "/_ilm/policy/" + policyStreams, obj{"policy": obj{"_meta": meta, "phases": obj{
			"hot": obj{"min_age": "0ms", "actions": obj{"rollover": obj{
				"max_age": "30d", "max_primary_shard_size": "50gb",
			}}},
			"delete": deleteAfter,
		}}}, "put lifecycle policy " + policyStreams},
		// Incident indices are monthly plain indices (see the package doc):
		// no rollover, only deletion.
		{"PUT", "/_ilm/policy/" + policyIncidents, obj{"policy": obj{"_meta": meta, "phases": obj{
			"hot":    obj{"min_age": "0ms", "actions": obj{}},
			"delete": deleteAfter,
		}}}, "put lifecycle policy " + policyIncidents},
		{"PUT", "/_component_template/" + componentECS, obj{"_meta": meta, "template": dynamicOff(ecsMappings())},
			"put component template " + componentECS},
		{"PUT", "/_component_template/" + componentAlert, obj{"_meta": meta, "template": dynamicOff(alertMappings())},
			"put component template " + componentAlert},
		{"PUT", "/_component_template/" + componentHealth, obj{"_meta": meta, "template": dynamicOff(healthMappings())},
			"put component template " + componentHealth},
		{"PUT", "/_component_template/" + componentSettings, obj{"_meta": meta, "template": obj{"settings": obj{
			"index.lifecycle.name": policyStreams, "index.number_of_shards": 1, "index.auto_expand_replicas": "0-1",
			"index.refresh_interval": "5s",
		}}}, "put component template " + componentSettings},
		{"PUT", "/_component_template/" + componentIncident, obj{"_meta": meta, "template": obj{"settings": obj{
			"index.lifecycle.name": policyIncidents, "index.number_of_shards": 1, "index.auto_expand_replicas": "0-1",
			"index.refresh_interval": "5s",
		}}}, "put component template " + componentIncident},
		{"PUT", "/_index_template/" + templateAlert, obj{
			"_meta": meta, "priority": templatePriority, "index_patterns": []string{"logs-mlads.alert-*"},
			"data_stream": obj{}, "composed_of": []string{componentECS, componentAlert, componentSettings},
		}, "put index template " + templateAlert},
		{"PUT", "/_index_template/" + templateHealth, obj{
			"_meta": meta, "priority": templatePriority, "index_patterns": []string{"metrics-mlads.health-*"},
			"data_stream": obj{}, "composed_of": []string{componentHealth, componentSettings},
		}, "put index template " + templateHealth},
		{"PUT", "/_index_template/" + templateIncident, obj{
			"_meta": meta, "priority": templatePriority, "index_patterns": []string{"mlads-incident-*"},
			"composed_of": []string{componentECS, componentAlert, componentIncident},
		}, "put index template " + templateIncident},
	}
}

// MappingJSON returns the merged field mapping of alert and incident
// documents ({"properties":...}), for tests and tools that check field
// names and types.
func MappingJSON() ([]byte, error) {
	m := ecsMappings()
	for k, v := range alertMappings() {
		m[k] = v
	}
	b, err := json.Marshal(obj{"properties": m})
	if err != nil {
		return nil, fmt.Errorf("elastic: mapping: %w", err)
	}
	return b, nil
}

// Fields returns every field of the documents matched by an index
// pattern of mlads ("logs-mlads.alert-*", "mlads-incident-*",
// "metrics-mlads.health-*") with its mapping type, by dotted name.
func Fields(pattern string) (map[string]string, error) {
	var m obj
	switch pattern {
	case "logs-mlads.alert-*", "mlads-incident-*":
		m = ecsMappings()
		for k, v := range alertMappings() {
			m[k] = v
		}
	case "metrics-mlads.health-*":
		m = healthMappings()
	default:
		return nil, fmt.Errorf("elastic: no mapping for index pattern %q", pattern)
	}
	out := map[string]string{}
	var walk func(prefix string, props obj)
	walk = func(prefix string, props obj) {
		for name, v := range props {
			f := v.(obj)
			if sub, ok := f["properties"].(obj); ok {
				walk(prefix+name+".", sub)
				continue
			}
			out[prefix+name], _ = f["type"].(string)
		}
	}
	walk("", m)
	return out, nil
}
