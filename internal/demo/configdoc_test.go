package demo

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/config"
)

// TestOperatorsGuideNamesEveryConfigKey keeps docs/operators.md in step with
// package config: every key a config file may contain, as a dotted path in
// backquotes (maps as NAME, lists of mappings as []; rules once as
// allow[].KEY), is in the guide.
// (It lives here because the docs folder holds no Go package.)
func TestOperatorsGuideNamesEveryConfigKey(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operators.md")
	if err != nil {
		t.Fatal(err)
	}
	keys := configKeys(reflect.TypeFor[config.Config](), "")
	if len(keys) < 40 {
		t.Fatalf("found only %d keys; the walk over config.Config is broken: %v", len(keys), keys)
	}
	for _, k := range keys {
		// Rules are documented once, as allow[].KEY, for users and groups.
		want := []string{k}
		if before, after, ok := strings.Cut(k, "allow[]."); ok {
			want = []string{before + "allow", "allow[]." + after}
		}
		for _, w := range want {
			if !strings.Contains(string(doc), "`"+w+"`") {
				t.Errorf("docs/operators.md does not document `%s`", w)
			}
		}
	}
}

// configKeys lists the YAML key paths of the leaves under struct type st.
func configKeys(st reflect.Type, prefix string) []string {
	var out []string
	for f := range st.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := prefix + name
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
			out = append(out, configKeys(ft, path+".")...)
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			out = append(out, configKeys(ft.Elem(), path+".NAME.")...)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			out = append(out, configKeys(ft.Elem(), path+"[].")...)
		default:
			out = append(out, path)
		}
	}
	return out
}
