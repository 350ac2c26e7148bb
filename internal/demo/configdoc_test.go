package demo

import (
	"fmt"
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

// TestOperatorsGuideDefaults checks the default column of docs/operators.md
// against config.Default(): a scalar key's row must show its default value
// in backquotes (durations as 20s, 1m, 12h; sizes as 256MiB; lists as
// [a, b]; empty as "" or []).
func TestOperatorsGuideDefaults(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operators.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // key → its table row's default cell
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) < 3 || !strings.HasPrefix(cells[0], "| `") {
			continue
		}
		for _, k := range strings.Split(strings.TrimPrefix(cells[0], "| "), ", ") {
			rows[strings.Trim(k, "`")] = cells[1]
		}
	}
	def := reflect.ValueOf(config.Default()).Elem()
	for _, k := range configKeys(def.Type(), "") {
		if strings.Contains(k, "NAME") {
			continue // per-entry keys have no value in Default
		}
		v, absent := def, false
		for _, part := range strings.Split(k, ".") {
			if v.Kind() == reflect.Pointer && v.IsNil() {
				absent = true // an optional section (web.oidc): its defaults apply once it is set
				break
			}
			v = fieldByYAML(reflect.Indirect(v), part)
		}
		if absent {
			continue
		}
		want := renderDefault(v)
		cell, ok := rows[k]
		if !ok {
			t.Errorf("no table row for `%s`", k)
			continue
		}
		found := false
		for _, w := range want {
			found = found || strings.Contains(cell, "`"+w+"`")
		}
		if !found {
			t.Errorf("`%s`: the guide says %s, config.Default() has `%s`", k, cell, want[0])
		}
	}
}

func fieldByYAML(v reflect.Value, name string) reflect.Value {
	for i := range v.NumField() {
		if n, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ","); n == name {
			return v.Field(i)
		}
	}
	panic("no field " + name)
}

// renderDefault spells a default the ways the guide may.
func renderDefault(v reflect.Value) []string {
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	switch x := v.Interface().(type) {
	case time.Duration:
		if x == 0 {
			return []string{"0s", "0"}
		}
		s := x.String() // 12h0m0s, 1m0s, 500ms
		if strings.HasSuffix(s, "h0m0s") {
			s = strings.TrimSuffix(s, "0m0s")
		} else if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		return []string{s}
	case config.ByteSize:
		if x == 0 {
			return []string{"0"}
		}
		return []string{x.String()}
	case string:
		if x == "" {
			return []string{`""`}
		}
		return []string{x}
	case []string:
		return []string{"[" + strings.Join(x, ", ") + "]"}
	}
	return []string{fmt.Sprint(v.Interface())}
}
