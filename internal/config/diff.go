package config

import (
	"reflect"
	"strings"
)

// Diff returns the keys whose values differ between a and b, as dotted
// paths ("run.inputs", "detect.behavior.scan_window"), in the order of the
// file. The daemon uses it on SIGHUP to say which changes need a restart.
func Diff(a, b Config) []string {
	var keys []string
	diff(reflect.ValueOf(a), reflect.ValueOf(b), "", &keys)
	return keys
}

func diff(a, b reflect.Value, prefix string, keys *[]string) {
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		key := prefix + tag
		av, bv := a.Field(i), b.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type.PkgPath() != "time" {
			diff(av, bv, key+".", keys)
			continue
		}
		if !reflect.DeepEqual(av.Interface(), bv.Interface()) {
			*keys = append(*keys, key)
		}
	}
}
